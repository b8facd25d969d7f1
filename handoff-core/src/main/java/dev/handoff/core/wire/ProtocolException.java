package dev.handoff.core.wire;

import java.io.IOException;

/** The peer broke the handoff protocol: a malformed frame, an unexpected message, no common version. */
public class ProtocolException extends IOException {

    public ProtocolException(String message) {
        super(message);
    }

    public ProtocolException(String message, Throwable cause) {
        super(message, cause);
    }
}
