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
 */
public enum IncumbentState implements SessionState {
    /** A successor connected: waiting for its hello (then: refused, or welcome). */
    AWAIT_HELLO(Waiting.of(Deadline.STEP, Message.Hello.class)),
    /** Sent a welcome that asks for the shared secret: waiting for the successor's proof. */
    AWAIT_PROOF(Waiting.of(Deadline.STEP, Message.Proof.class, Message.Refused.class)),
    /** Sent the manifest and the listeners: the successor validates, rebuilds and starts; waiting for READY. */
    AWAIT_READY(Waiting.of(Deadline.READY, Message.Ready.class, Message.Failed.class)),
    /** READY arrived: watching the successor for the probation period; silence is success. */
    PROBATION(Waiting.of(Deadline.PROBATION)),
    /** The successor serves: this process stops accepting and drains; nothing is read until a batch is sent. */
    TAKEN_OVER(Waiting.of(Deadline.NONE)),
    /** Sent a batch of connections: waiting for the successor's answer. */
    AWAIT_ADOPTED(Waiting.of(Deadline.STEP, Message.Adopted.class)),
    /** Final: the peer was not accepted (uid, version, secret). Nothing was sent; the incumbent serves on. */
    REFUSED(Waiting.FINAL),
    /** Final: the handoff failed before the successor served. The incumbent serves on as if nothing happened. */
    FAILED(Waiting.FINAL),
    /**
     * Final: the successor went away (or stopped answering) while connections moved to it. Every connection
     * without an answer is still the incumbent's; the application may resume serving.
     */
    LOST(Waiting.FINAL),
    /** Final: goodbye sent; the drain is over. */
    CLOSED(Waiting.FINAL);

    private final Waiting waiting;

    IncumbentState(Waiting waiting) {
        this.waiting = waiting;
    }

    @Override
    public Waiting waiting() {
        return waiting;
    }

    @Override
    public List<IncumbentState> on(Class<? extends Message> message) {
        return switch (this) {
            // Refused (uid, version, secret), or welcomed: then the proof is awaited, or the manifest sent.
            case AWAIT_HELLO -> message == Message.Hello.class ? List.of(AWAIT_PROOF, AWAIT_READY, REFUSED) : List.of();
            case AWAIT_PROOF -> message == Message.Proof.class ? List.of(AWAIT_READY, REFUSED)
                    : message == Message.Refused.class ? List.of(REFUSED) : List.of();
            // With no probation configured, READY is the takeover itself.
            case AWAIT_READY -> message == Message.Ready.class ? List.of(PROBATION, TAKEN_OVER)
                    : message == Message.Failed.class ? List.of(FAILED) : List.of();
            case AWAIT_ADOPTED -> message == Message.Adopted.class ? List.of(TAKEN_OVER) : List.of();
            case PROBATION, TAKEN_OVER, REFUSED, FAILED, LOST, CLOSED -> List.of();
        };
    }

    @Override
    public IncumbentState after(Fault fault) {
        return switch (this) {
            case AWAIT_HELLO, AWAIT_PROOF, AWAIT_READY -> FAILED;
            // The successor that stays silent (or alive) through probation has taken over.
            case PROBATION -> fault == Fault.TIMEOUT ? TAKEN_OVER : FAILED;
            // Nothing is read here (no deadline): a fault shows when the next batch or the goodbye is sent.
            case TAKEN_OVER -> fault == Fault.TIMEOUT ? TAKEN_OVER : LOST;
            case AWAIT_ADOPTED -> LOST;
            case REFUSED, FAILED, LOST, CLOSED -> this;
        };
    }
}
