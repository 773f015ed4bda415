import { deadLettersV1 } from "@obfy/protos";
import { InvalidArgument, NotFound } from "../errors.js";
import { defineService, type KitService } from "../server/service.js";
import type { DeadLetter, DeadLetters } from "./dead-letters.js";

/** What {@link createDeadLettersService} needs: the bus's dead letters and the queues this service owns. */
export interface DeadLettersServiceOptions {
  readonly deadLetters: DeadLetters;
  /** The queues this service consumes: its subscription queue (the service name) and its task types. */
  readonly queues: () => readonly string[];
}

const MAX_PAGE = 100;
const DEFAULT_PAGE = 50;

/** `<queue>/<event id>`: what the API calls a dead letter's id. Event ids never contain "/" at the start. */
function letterId(letter: DeadLetter): string {
  return `${letter.queue}/${letter.id}`;
}

function parseLetterId(id: string, queues: readonly string[]): { queue: string; eventId: string } {
  const at = id.indexOf("/");
  const queue = at < 0 ? "" : id.slice(0, at);
  const eventId = at < 0 ? "" : id.slice(at + 1);
  if (queue === "" || eventId === "") throw new InvalidArgument("dead_letter_id must be <queue>/<event id>");
  if (!queues.includes(queue)) throw new NotFound(`This service has no queue ${queue}`);
  return { queue, eventId };
}

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/**
 * `kit.events.v1.DeadLettersService` over a service's own queues: the back-office lists,
 * replays and discards dead letters through it (admin only, from the proto's auth option), and
 * nobody else touches the service's queues. Listing reads at most the oldest 1,000 letters of
 * each queue; pages are offsets into that, newest first.
 */
export function createDeadLettersService(options: DeadLettersServiceOptions): KitService {
  const { deadLetters } = options;
  return defineService(deadLettersV1.DeadLettersServiceService, {
    async listDeadLetters(request) {
      const queues = options.queues();
      if (request.queue !== "" && !queues.includes(request.queue)) {
        throw new NotFound(`This service has no queue ${request.queue}`);
      }
      if (request.pageSize < 0 || request.pageSize > MAX_PAGE) {
        throw new InvalidArgument(`page_size must be between 0 and ${MAX_PAGE}`);
      }
      const offset = request.pageToken === "" ? 0 : Number(request.pageToken);
      if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgument("Invalid page token");
      const size = request.pageSize === 0 ? DEFAULT_PAGE : request.pageSize;
      const lists = await Promise.all(
        (request.queue === "" ? queues : [request.queue]).map((queue) => deadLetters.list(queue, { limit: 1000 })),
      );
      const all = lists.flat().sort((a, b) => (b.deadLetteredAt?.getTime() ?? 0) - (a.deadLetteredAt?.getTime() ?? 0));
      const page = all.slice(offset, offset + size);
      return {
        deadLetters: page.map((letter) => ({
          deadLetterId: letterId(letter),
          queue: letter.queue,
          eventId: letter.id,
          eventType: letter.type ?? "",
          source: letter.source ?? "",
          subject: letter.subject ?? "",
          ...(letter.time === undefined ? {} : { eventTime: timestamp(new Date(letter.time)) }),
          attemptCount: letter.attempts ?? 0,
          lastError: letter.error ?? "",
          ...(letter.deadLetteredAt === undefined ? {} : { deadLetterTime: timestamp(letter.deadLetteredAt) }),
          dataBytes: letter.dataBytes,
        })),
        nextPageToken: offset + size < all.length ? String(offset + size) : "",
      };
    },
    async replayDeadLetter(request) {
      const { queue, eventId } = parseLetterId(request.deadLetterId, options.queues());
      const replayed = await deadLetters.replay(queue, { ids: [eventId] });
      if (replayed === 0) throw new NotFound("Dead letter not found");
      return {};
    },
    async discardDeadLetter(request) {
      const { queue, eventId } = parseLetterId(request.deadLetterId, options.queues());
      await deadLetters.discard(queue, { ids: [eventId] });
      return {};
    },
  });
}
