/** The dashboard's entry: one API client, the session gate, the shell. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiClient } from './api/client.ts';
import { App } from './app.tsx';
import { SessionGate } from './session.tsx';
import './styles.css';

const root = document.getElementById('root');
if (root === null) throw new Error('no #root element');
createRoot(root).render(
  <StrictMode>
    <SessionGate client={new ApiClient()}>
      <App />
    </SessionGate>
  </StrictMode>,
);
