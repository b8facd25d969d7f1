package dev.handoff.core;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The rendezvous socket's path cannot be used: its directory belongs to another user, others may enter it
 * (it must be {@code 0700}), it is no directory or cannot be created; or the path is too long for a Unix
 * socket address. Anyone who can reach the socket could ask for the server's sockets, so Handoff neither
 * uses nor repairs such a directory.
 */
public class RendezvousPathException extends IOException {

    /** What is wrong with the path. */
    public enum Problem {
        /** The directory: its owner, its mode, or it cannot be made. */
        DIRECTORY,
        /** The names bound in the directory would not fit a Unix socket address. */
        TOO_LONG
    }

    private final Problem problem;
    private final transient Path socketPath;

    RendezvousPathException(Problem problem, Path socketPath, String message, Throwable cause) {
        super(message, cause);
        this.problem = problem;
        this.socketPath = socketPath;
    }

    public Problem problem() {
        return problem;
    }

    /** The rendezvous socket's path, as configured. */
    public Path socketPath() {
        return socketPath;
    }

    /** The directory that holds (or would hold) the socket. */
    public Path directory() {
        return socketPath.toAbsolutePath().getParent();
    }
}
