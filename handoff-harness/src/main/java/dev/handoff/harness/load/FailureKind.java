package dev.handoff.harness.load;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/** Why a client's request (or connection) failed, as a client without retries sees it. */
public enum FailureKind {
    /** The connection was refused: nobody listened on the port. */
    REFUSED,
    /** The connection was reset by the server. */
    RESET,
    /** The server closed the connection before the answer was complete (or before it was sent). */
    EARLY_EOF,
    /** No connection, or no answer, within the client's timeouts. */
    TIMEOUT,
    /** A complete answer that is wrong: for HTTP, a status that is not 2xx. */
    BAD_STATUS,
    /** Any other I/O error, or an answer that could not be read. */
    OTHER;

    /** The kind of an I/O failure, from the exception the JDK's sockets throw. */
    public static FailureKind of(IOException e) {
        String message = String.valueOf(e.getMessage());
        if (e instanceof ConnectException && message.contains("refused")) {
            return REFUSED;
        }
        if (e instanceof SocketTimeoutException) {
            return TIMEOUT;
        }
        // A write to a connection the server has closed fails with a broken pipe: it closed before answering.
        if (e instanceof EOFException || e instanceof SocketException && message.contains("Broken pipe")) {
            return EARLY_EOF;
        }
        if (e instanceof SocketException && message.contains("reset")) {
            return RESET;
        }
        return OTHER;
    }
}
