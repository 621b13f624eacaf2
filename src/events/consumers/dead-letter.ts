/**
 * Records a consumer cannot decode are set aside on `<topic>.dlq` (with why, where they came
 * from and the original value), never retried forever: a poison record must not stop a
 * partition. The dead-letter topic is created with the others at start-up.
 */
import type { DeliveredRecord, EventBus } from '../port.ts';

export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;

export async function deadLetter(bus: EventBus, group: string, record: DeliveredRecord, reason: string): Promise<void> {
  await bus.publish([
    {
      topic: deadLetterTopic(record.topic),
      key: record.key,
      value: JSON.stringify({ reason, group, topic: record.topic, partition: record.partition, offset: record.offset.toString(), value: record.value.slice(0, 64 * 1024) }),
      headers: { reason },
    },
  ]);
}
