package dev.handoff.spring;

import dev.handoff.core.Handoff;
import dev.handoff.core.Takeover;

/**
 * A bean that serves something of its own through the {@link Handoff} (a raw TCP port it got from
 * {@link Handoff#listen}, its own connections) and must drain when a successor has taken over. Each
 * one is called on a handoff thread once the successor is READY, before the web server drains; it
 * returns when it is done (stopped accepting, in-flight work finished, connections handed over with
 * {@link Takeover#handOver} or closed), and should not run past {@link Takeover#deadline()}.
 */
@FunctionalInterface
public interface HandoffDrainParticipant {

    void drain(Takeover takeover) throws Exception;
}
