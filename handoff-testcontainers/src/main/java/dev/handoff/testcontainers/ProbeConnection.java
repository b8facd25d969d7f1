package dev.handoff.testcontainers;

import java.io.Closeable;
import java.io.IOException;

/**
 * One client connection of a protocol the {@link ZeroDowntimeProbe} speaks (HTTP and line echo are built
 * in; this is the hook for your own). The probe opens one per client, makes exchange after exchange on it,
 * and opens a new one only when this one failed or the server ended it. Nothing is retried.
 */
public interface ProbeConnection extends Closeable {

    /**
     * One exchange: a request and its complete answer.
     *
     * @return who answered and whether the connection stays open
     * @throws IOException        the exchange failed; its kind (refused, reset, early EOF, timeout) is read
     *                            from the exception
     * @throws BadAnswerException a complete answer that is wrong (for HTTP: a status that is not 2xx)
     */
    Answer exchange() throws IOException;

    /**
     * @param answeredBy who answered (a pid, a generation, a version: whatever the answer names), or null
     *                   when it does not say
     * @param closing    the server said it ends the connection after this answer (HTTP
     *                   {@code Connection: close}): a graceful end, counted but not a failure
     */
    record Answer(String answeredBy, boolean closing) {
    }

    /** Opens connections to where the probe points it. */
    @FunctionalInterface
    interface Factory {
        ProbeConnection open() throws IOException;
    }

    /** A complete answer that is wrong: counted as {@code BAD_STATUS}; the connection stays in use. */
    final class BadAnswerException extends IOException {
        public BadAnswerException(String message) {
            super(message);
        }
    }
}
