package dev.handoff.core;

import java.nio.file.Path;

/**
 * A shared secret file Handoff refuses to read, checked the way ssh checks a private key: it is missing,
 * not a regular file (a symbolic link included), readable by others, owned by another user, or too large
 * to be a secret.
 */
public class SecretFileException extends IllegalArgumentException {

    private final transient Path file;

    SecretFileException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The file as it was named. */
    public Path file() {
        return file;
    }
}
