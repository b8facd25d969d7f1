package dev.handoff.core.session;

import dev.handoff.core.wire.Message;

import java.util.List;

/**
 * The successor's side of one handoff, as a state machine: like {@link IncumbentState}, each state waits
 * for at most its {@link Deadline}, the messages it {@linkplain #expects() expects} move it on (see
 * {@link SuccessorSession}), and every {@link Fault} leads to the state {@link #after(Fault)} names.
 * A fault before the manifest arrived is a cold start only when the incumbent is gone
 * ({@link Fault#PEER_DIED}): an incumbent that is still there holds the listeners, and binding them fresh
 * would collide with it. After READY the successor serves only once the incumbent confirmed it, or once
 * the incumbent is gone; an incumbent that is there and did not confirm keeps serving, and this process
 * withdraws.
 */
public enum SuccessorState implements SessionState {
    /** Connecting to the rendezvous socket (then: cold start if nobody is there, else hello). */
    CONNECTING(Waiting.of(Deadline.STEP)),
    /** Sent hello: waiting for the welcome, or to be told busy or refused. */
    AWAIT_WELCOME(Waiting.of(Deadline.STEP, Message.Welcome.class, Message.Busy.class, Message.Refused.class)),
    /** Welcomed (and the secret proven both ways): waiting for the manifest and its descriptors. */
    AWAIT_MANIFEST(Waiting.of(Deadline.STEP, Message.Handover.class, Message.Refused.class)),
    /**
     * The manifest arrived and every descriptor matched it: the application claims its listeners and
     * starts; nothing is read until it says READY (the incumbent bounds this with its ready timeout). A
     * fault shows when READY is sent.
     */
    INHERITED(Waiting.of(Deadline.NONE)),
    /** Said READY (version 2): waiting for the incumbent to confirm it, or to say it came too late. */
    AWAIT_CONFIRM(Waiting.of(Deadline.STEP, Message.Confirmed.class, Message.Refused.class)),
    /** READY confirmed: receiving the predecessor's connections until its goodbye or the end of its drain. */
    RECEIVING(Waiting.of(Deadline.DRAIN, Message.Connections.class, Message.Goodbye.class)),
    /** Final: nobody was there, or the incumbent died before it handed anything over: bind fresh. */
    COLD(Waiting.FINAL),
    /** Final: the incumbent is handing over to another successor (or still draining): try again later. */
    BUSY(Waiting.FINAL),
    /** Final: either side refused the other (uid, version, secret). */
    REFUSED(Waiting.FINAL),
    /** Final: an incumbent is there but the handoff failed; starting cold would collide with it. */
    FAILED(Waiting.FINAL),
    /** Final: the incumbent died before it confirmed READY; this process serves what it received, on its own. */
    ALONE(Waiting.FINAL),
    /**
     * Final: the incumbent is there and did not confirm READY (it gave up waiting for it): it serves on,
     * and this process must not serve: it closes what it inherited and fails.
     */
    WITHDRAWN(Waiting.FINAL),
    /** Final: the predecessor said goodbye, went away, or its drain ended; nothing more arrives. */
    DONE(Waiting.FINAL);

    private final Waiting waiting;

    SuccessorState(Waiting waiting) {
        this.waiting = waiting;
    }

    @Override
    public Waiting waiting() {
        return waiting;
    }

    @Override
    public List<SuccessorState> on(Class<? extends Message> message) {
        return switch (this) {
            // A welcome whose proof (or whose lack of one) this side refuses ends in REFUSED.
            case AWAIT_WELCOME -> message == Message.Welcome.class ? List.of(AWAIT_MANIFEST, REFUSED)
                    : message == Message.Busy.class ? List.of(BUSY)
                    : message == Message.Refused.class ? List.of(REFUSED) : List.of();
            // The manifest is checked against the descriptors that came with it: inherited, or failed.
            case AWAIT_MANIFEST -> message == Message.Handover.class ? List.of(INHERITED, FAILED)
                    : message == Message.Refused.class ? List.of(REFUSED) : List.of();
            case AWAIT_CONFIRM -> message == Message.Confirmed.class ? List.of(RECEIVING)
                    : message == Message.Refused.class ? List.of(WITHDRAWN) : List.of();
            // A batch whose answer cannot be sent ends the reception (the incumbent, if alive, keeps it).
            case RECEIVING -> message == Message.Connections.class ? List.of(RECEIVING, DONE)
                    : message == Message.Goodbye.class ? List.of(DONE) : List.of();
            case CONNECTING, INHERITED, COLD, BUSY, REFUSED, FAILED, ALONE, WITHDRAWN, DONE -> List.of();
        };
    }

    @Override
    public SuccessorState after(Fault fault) {
        return switch (this) {
            // PEER_DIED while connecting: no socket at the path, or a stale one that nobody accepts on.
            case CONNECTING, AWAIT_WELCOME, AWAIT_MANIFEST -> fault == Fault.PEER_DIED ? COLD : FAILED;
            // Not confirmed: an incumbent that is gone leaves its listeners to this process alone; one
            // that is there serves on. (After a timeout the channel is cut first, and a confirmation
            // already queued still counts.)
            case INHERITED, AWAIT_CONFIRM -> fault == Fault.PEER_DIED ? ALONE : WITHDRAWN;
            case RECEIVING -> DONE;
            case COLD, BUSY, REFUSED, FAILED, ALONE, WITHDRAWN, DONE -> this;
        };
    }
}
