package dev.handoff.core.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A pid file for supervisors and service managers that follow the serving process by its pid: each
 * generation overwrites it when it serves, through a temporary file renamed into place, so that a reader
 * never sees it half written.
 */
public final class PidFile {

    private PidFile() {
    }

    /** Writes this process's pid to {@code path}, creating its directory if needed. */
    public static void write(Path path) throws IOException {
        Files.createDirectories(path.getParent());
        long pid = ProcessHandle.current().pid();
        Path temporary = path.resolveSibling("." + path.getFileName() + "." + pid);
        Files.writeString(temporary, pid + "\n");
        Files.move(temporary, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
