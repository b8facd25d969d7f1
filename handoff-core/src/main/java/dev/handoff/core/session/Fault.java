package dev.handoff.core.session;

import dev.handoff.core.fd.FdChannelException;
import dev.handoff.core.wire.UnexpectedMessageException;

import java.io.IOException;

/** What can go wrong while a state waits for the peer (or sends to it), whatever the state. */
public enum Fault {
    /** The state's deadline passed with no message. */
    TIMEOUT,
    /**
     * The peer's end closed between two messages (or a send met a closed end), and its process is still
     * there, as far as this side can tell.
     */
    PEER_CLOSED,
    /** The peer's end closed and its process has exited: nobody holds what it held any more. */
    PEER_DIED,
    /**
     * Bytes that are not a message: a bad frame, a message cut short, truncated descriptors, over a limit,
     * unreadable JSON.
     */
    MALFORMED,
    /** A well-formed message this state does not expect. */
    UNEXPECTED;

    /** The fault an I/O failure on the channel stands for; {@link #PEER_DIED} is for the caller to find out. */
    public static Fault of(IOException e) {
        if (e instanceof UnexpectedMessageException) {
            return UNEXPECTED;
        }
        if (e instanceof FdChannelException channel) {
            return switch (channel.kind()) {
                case TIMEOUT -> TIMEOUT;
                case CLOSED -> PEER_CLOSED;
                // A message cut short is no message: the peer's death shows on its lifeline, not here.
                case SHORT_READ, TRUNCATED, MALFORMED, TOO_LARGE -> MALFORMED;
            };
        }
        if (e instanceof dev.handoff.core.wire.ProtocolException) {
            return MALFORMED;
        }
        return PEER_CLOSED; // a send that meets a closed or reset socket
    }
}
