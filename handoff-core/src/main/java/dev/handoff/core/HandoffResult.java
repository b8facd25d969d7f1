package dev.handoff.core;

import java.time.Duration;
import java.time.Instant;

/**
 * What happened in one handoff, seen from one side.
 *
 * @param outcome  how it ended
 * @param reason   why, in words (for failures); "ok" on success
 * @param peerPid  the other process, or -1 if unknown
 * @param duration from the successor's connection to its READY (or to the failure)
 * @param fds      descriptors handed over
 * @param at       when it ended
 */
public record HandoffResult(Outcome outcome, String reason, long peerPid, Duration duration, int fds, Instant at) {

    /** How a handoff ended. */
    public enum Outcome {
        /** The successor is serving; the incumbent drains and exits. */
        SUCCEEDED,
        /** Something went wrong; the incumbent keeps serving. */
        FAILED,
        /** The peer was not accepted (credentials, protocol version, shared secret). */
        REFUSED,
        /** Another handoff was under way, or the incumbent was still draining. */
        BUSY
    }

    public boolean succeeded() {
        return outcome == Outcome.SUCCEEDED;
    }

    /** A result whose duration runs from {@code startNanos} ({@link System#nanoTime()}) to now. */
    static HandoffResult of(Outcome outcome, String reason, long peerPid, long startNanos, int fds) {
        return between(outcome, reason, peerPid, startNanos, System.nanoTime(), fds);
    }

    /** A result whose duration runs from {@code startNanos} to {@code endNanos} ({@link System#nanoTime()}). */
    static HandoffResult between(Outcome outcome, String reason, long peerPid, long startNanos, long endNanos, int fds) {
        return new HandoffResult(outcome, reason, peerPid, Duration.ofNanos(endNanos - startNanos), fds, Instant.now());
    }
}
