package dev.handoff.core.session;

import dev.handoff.core.wire.Message;

import java.util.List;

/**
 * The incumbent's side of one handoff, as a state machine. It waits in one state at a time, for at most
 * the state's {@link Deadline}; a message the state {@linkplain #expects() expects} moves it on (what each
 * one leads to is in {@link IncumbentSession}), and every {@link Fault} moves it to the state
 * {@link #after(Fault)} names. The incumbent's listeners are never touched here: whatever state a
 * session ends in, the incumbent still accepts until the application stops. docs/protocol.md draws
 * this table; a test keeps the two the same.
 *
 * <p>The commit point is the {@code confirmed} answer to READY: once it is sent, only the successor's
 * death ({@link Fault#PEER_DIED}, seen on its lifeline) gives the listeners back; any other fault leaves
 * the successor serving and ends only the traffic between the two ({@link #DETACHED}).
 */
public enum IncumbentState implements SessionState {
    /** A successor connected: waiting for its hello (then: refused, busy, or welcome). */
    AWAIT_HELLO(Waiting.of(Deadline.STEP, Message.Hello.class)),
    /** Sent a welcome that asks for the shared secret: waiting for the successor's proof. */
    AWAIT_PROOF(Waiting.of(Deadline.STEP, Message.Proof.class, Message.Refused.class)),
    /**
     * Sent the manifest and the listeners: the successor validates, rebuilds and starts; waiting for READY.
     * At the deadline the successor is told it came too late.
     */
    AWAIT_READY(Waiting.of(Deadline.READY, Message.Ready.class, Message.Failed.class)),
    /** READY confirmed: watching the successor for the probation period; silence is success. */
    PROBATION(Waiting.of(Deadline.PROBATION)),
    /** The successor serves: this process stops accepting and drains; nothing is read until a batch is sent. */
    TAKEN_OVER(Waiting.of(Deadline.NONE)),
    /** Sent a batch of connections: waiting for the successor's answer. */
    AWAIT_ADOPTED(Waiting.of(Deadline.STEP, Message.Adopted.class)),
    /**
     * The successor serves, but the traffic to it has ended (a late answer, a broken message, its end
     * closed): no more connections move, and what did not move stays here to be drained. The successor's
     * lifeline is still watched: if it dies, this process may serve again.
     */
    DETACHED(Waiting.of(Deadline.NONE)),
    /** Final: the peer closed before its hello (a liveness probe): not a handoff; nothing is recorded. */
    UNHEARD(Waiting.FINAL),
    /** Final: the peer was not accepted (uid, version, secret). Nothing was sent; the incumbent serves on. */
    REFUSED(Waiting.FINAL),
    /** Final: another handoff is under way (or this process still receives its predecessor's connections). */
    BUSY(Waiting.FINAL),
    /** Final: the handoff failed before the successor served. The incumbent serves on as if nothing happened. */
    FAILED(Waiting.FINAL),
    /**
     * Final: the successor is gone (its process exited) after it served. Every connection it did not take
     * is still the incumbent's; the application may resume serving.
     */
    LOST(Waiting.FINAL),
    /** Final: goodbye said (or the drain ended); the session is over. */
    CLOSED(Waiting.FINAL);

    private final Waiting waiting;

    IncumbentState(Waiting waiting) {
        this.waiting = waiting;
    }

    @Override
    public Waiting waiting() {
        return waiting;
    }

    /** Whether the successor serves (the takeover happened), whether or not connections can still move. */
    public boolean isTakenOver() {
        return this == TAKEN_OVER || this == AWAIT_ADOPTED || this == DETACHED;
    }

    @Override
    public List<IncumbentState> on(Class<? extends Message> message) {
        return switch (this) {
            // Refused (uid, version, secret), busy, or welcomed: then the proof is awaited, or the manifest sent.
            case AWAIT_HELLO -> message == Message.Hello.class ? List.of(AWAIT_PROOF, AWAIT_READY, REFUSED, BUSY)
                    : List.of();
            case AWAIT_PROOF -> message == Message.Proof.class ? List.of(AWAIT_READY, REFUSED)
                    : message == Message.Refused.class ? List.of(REFUSED) : List.of();
            // With no probation configured, a confirmed READY is the takeover itself; a confirmation that
            // cannot be sent fails the handoff (the successor, not confirmed, withdraws).
            case AWAIT_READY -> message == Message.Ready.class ? List.of(PROBATION, TAKEN_OVER, FAILED)
                    : message == Message.Failed.class ? List.of(FAILED) : List.of();
            case AWAIT_ADOPTED -> message == Message.Adopted.class ? List.of(TAKEN_OVER) : List.of();
            case PROBATION, TAKEN_OVER, DETACHED, UNHEARD, REFUSED, BUSY, FAILED, LOST, CLOSED -> List.of();
        };
    }

    @Override
    public IncumbentState after(Fault fault) {
        return switch (this) {
            case AWAIT_HELLO -> fault == Fault.PEER_CLOSED || fault == Fault.PEER_DIED ? UNHEARD : FAILED;
            case AWAIT_PROOF, AWAIT_READY -> FAILED;
            // The successor was confirmed: silence is success, its death a failure (this process never
            // stopped serving), anything else leaves it serving, detached.
            case PROBATION -> fault == Fault.TIMEOUT ? TAKEN_OVER : fault == Fault.PEER_DIED ? FAILED : DETACHED;
            // Nothing is read here (no deadline): a fault shows on the next send, or on the lifeline.
            case TAKEN_OVER -> fault == Fault.TIMEOUT ? TAKEN_OVER : fault == Fault.PEER_DIED ? LOST : DETACHED;
            case AWAIT_ADOPTED -> fault == Fault.PEER_DIED ? LOST : DETACHED;
            case DETACHED -> fault == Fault.PEER_DIED ? LOST : DETACHED;
            case UNHEARD, REFUSED, BUSY, FAILED, LOST, CLOSED -> this;
        };
    }
}
