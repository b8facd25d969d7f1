package dev.handoff.core.session;

import dev.handoff.core.wire.Message;

import java.util.List;

/**
 * A state of either role's session ({@link IncumbentState}, {@link SuccessorState}): how long it waits for
 * the peer, the messages that move it on, and where every {@link Fault} leads from it.
 */
public interface SessionState {

    Waiting waiting();

    /** Whether the session is over: a final state reads nothing and every fault leaves it as it is. */
    default boolean isFinal() {
        return waiting() == Waiting.FINAL;
    }

    /** Where {@code fault} leads from this state; a final state stays as it is. */
    SessionState after(Fault fault);

    /**
     * Where a message of type {@code message} may lead from this state (which one depends on what it says,
     * e.g. a hello with another uid is refused); empty for a message this state does not expect.
     */
    List<? extends SessionState> on(Class<? extends Message> message);

    default Deadline deadline() {
        return waiting().deadline();
    }

    /** The messages that move this state on; any other is {@link Fault#UNEXPECTED}. */
    default List<Class<? extends Message>> expects() {
        return waiting().expects();
    }

    /** How long a state waits, and for which messages (none: it reads nothing, or it is final). */
    record Waiting(Deadline deadline, List<Class<? extends Message>> expects) {

        /** What a final state waits for: nothing. */
        public static final Waiting FINAL = new Waiting(Deadline.NONE, List.of());

        @SafeVarargs
        public static Waiting of(Deadline deadline, Class<? extends Message>... expects) {
            return new Waiting(deadline, List.of(expects));
        }
    }
}
