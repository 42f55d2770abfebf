/**
 * EXPERIMENT, opt-in with SINK_FLUSH=immediate: what the event latency would be if the worker's
 * EventSink wrote a batch as soon as events arrive while no write is in flight (batching only
 * what arrives during a write), instead of on its fixed 200 ms timer. It patches
 * EventSink.prototype.push in this process at run time; src/ is unchanged and the default run
 * measures the shipped behaviour. The 200 ms timer stays as the fallback.
 */
import { EventSink } from '../../src/worker/event-sink.js';

interface Kickable {
  flush(): Promise<void>;
  push(e: unknown): void;
  __writing?: boolean;
  __again?: boolean;
}

export const sinkExperiment = process.env.SINK_FLUSH === 'immediate';

function kick(s: Kickable): void {
  if (s.__writing) {
    s.__again = true;
    return;
  }
  s.__writing = true;
  s.flush().finally(() => {
    s.__writing = false;
    if (s.__again) {
      s.__again = false;
      kick(s);
    }
  });
}

export function applySinkExperiment(): void {
  if (!sinkExperiment) return;
  const proto = EventSink.prototype as unknown as Kickable;
  const push = proto.push;
  proto.push = function (this: Kickable, e: unknown) {
    push.call(this, e);
    kick(this);
  };
}
