/**
 * Upload by drag and drop (or a file chooser): the File goes as the body of PUT
 * /files/{location}/{key} through XMLHttpRequest, with a progress bar; the key is the optional
 * prefix plus the file's name. Offered only for locations the caller may write to.
 */
import { useRef, useState, type DragEvent } from 'react';
import { ApiError, type ApiClient } from '../api/client.ts';
import type { UploadResult } from '../api/inventory-types.ts';
import { formatBytes } from '../format.ts';

export function UploadZone({ client, locations, onUploaded }: { readonly client: ApiClient; readonly locations: readonly string[]; readonly onUploaded: (result: UploadResult) => void }) {
  const [location, setLocation] = useState(locations[0] ?? '');
  const [prefix, setPrefix] = useState('');
  const [progress, setProgress] = useState<{ readonly name: string; readonly sent: number; readonly total: number } | undefined>(undefined);
  const [message, setMessage] = useState<{ readonly text: string; readonly bad: boolean } | undefined>(undefined);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const busy = progress !== undefined;

  const upload = async (file: File) => {
    const key = `${prefix}${file.name}`;
    setMessage(undefined);
    setProgress({ name: key, sent: 0, total: file.size });
    try {
      const result = await client.upload(location, key, file, (sent, total) => setProgress({ name: key, sent, total }));
      setMessage({ text: `Uploaded ${result.key} (${formatBytes(result.size)}) to ${result.location}.`, bad: false });
      onUploaded(result);
    } catch (err) {
      setMessage({ text: `Could not upload ${key}: ${err instanceof ApiError ? `${err.message} (${err.code})` : String(err)}`, bad: true });
    } finally {
      setProgress(undefined);
      if (input.current !== null) input.current.value = '';
    }
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file !== undefined && !busy) void upload(file);
  };

  return (
    <section className="card upload" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload</h2>
      <div className="upload-fields">
        <label>
          To{' '}
          <select aria-label="Upload to" value={location} onChange={(e) => setLocation(e.target.value)} disabled={busy}>
            {locations.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Key prefix{' '}
          <input type="text" aria-label="Key prefix" value={prefix} onChange={(e) => setPrefix(e.target.value)} placeholder="e.g. reports/2026/" disabled={busy} />
        </label>
      </div>
      <div
        className={over ? 'dropzone over' : 'dropzone'}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>Drop a file here, or</p>
        <label className="file-button">
          Choose a file to upload
          <input
            ref={input}
            type="file"
            className="sr-only"
            disabled={busy}
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file !== undefined) void upload(file);
            }}
          />
        </label>
      </div>
      {progress === undefined ? null : (
        <div className="upload-progress">
          <label htmlFor="upload-progress">Uploading {progress.name}</label>
          <progress id="upload-progress" max={Math.max(1, progress.total)} value={progress.sent} />
          <span className="small muted">
            {formatBytes(progress.sent)} of {formatBytes(progress.total)}
          </span>
        </div>
      )}
      <p role="status" className={message === undefined ? 'sr-only' : message.bad ? 'problem' : 'notice'}>
        {message?.text ?? ''}
      </p>
    </section>
  );
}
