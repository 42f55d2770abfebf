import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * A body refused part-way (or before it was read) is still arriving: a keep-alive connection
 * would stay stuck behind it, and a chunked body has no length to skip. Say so in the reply
 * (`connection: close`) and end the socket once the reply is out.
 */
export function closeAfterReply(req: FastifyRequest, reply: FastifyReply): void {
  // Captured now: the request and reply let go of their socket once the reply is written.
  const socket = reply.raw.socket ?? req.raw.socket;
  reply.header('connection', 'close');
  reply.raw.once('finish', () => socket?.destroy());
}

/** For a handler's catch: closes the connection when the request body was not read to its end. */
export function closeIfBodyUnread(req: FastifyRequest, reply: FastifyReply): void {
  if (!req.raw.complete) closeAfterReply(req, reply);
}
