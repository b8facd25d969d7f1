package dev.handoff.core.fd;

import java.io.IOException;

/** A failure of the fd channel, with a {@link Kind} that says what went wrong. */
public class FdChannelException extends IOException {

    /** What went wrong. */
    public enum Kind {
        /** The peer closed the channel (or it was shut down) between messages. */
        CLOSED,
        /** The stream ended in the middle of a message. */
        SHORT_READ,
        /** Fewer file descriptors arrived than the message announced, or the kernel truncated them. */
        TRUNCATED,
        /** The bytes on the channel are not a Handoff fd message. */
        MALFORMED,
        /** A message exceeds the payload or fd limit of this channel. */
        TOO_LARGE,
        /** The peer did not send (or accept) the message in time. */
        TIMEOUT
    }

    private final Kind kind;

    public FdChannelException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public FdChannelException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
