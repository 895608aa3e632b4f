// A part of a running agent with a life of its own (timers, a connection, a
// server). agent.ts lists the parts once: started in that order, stopped in
// reverse. stop() must be safe on a part that never started or already
// stopped: a failed start stops every part.
export interface AgentPart {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}
