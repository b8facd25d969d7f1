package dev.handoff.core;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The directory of the rendezvous socket cannot be used: it belongs to another user, others may enter it
 * (it must be {@code 0700}), it is not a directory, or it cannot be created. Anyone who can reach the socket
 * could ask for the server's sockets, so Handoff neither uses nor repairs such a directory.
 */
public class RendezvousDirectoryException extends IOException {

    private final transient Path directory;

    RendezvousDirectoryException(Path directory, IOException cause) {
        super(cause.getMessage(), cause);
        this.directory = directory;
    }

    /** The directory that holds (or would hold) the socket. */
    public Path directory() {
        return directory;
    }
}
