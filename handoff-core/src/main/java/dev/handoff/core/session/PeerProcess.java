package dev.handoff.core.session;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/** Whether the process at the other end of the channel is gone, from /proc (Linux). */
final class PeerProcess {

    private PeerProcess() {
    }

    /**
     * Whether {@code pid} has exited (or is a zombie) within {@code wait}. A process killed with SIGKILL
     * closes its descriptors while it exits, so its peer may see the channel end a moment before the
     * process is gone. False for an unknown pid (0 or less: not visible in this pid namespace).
     */
    static boolean hasExited(long pid, Duration wait) {
        if (pid <= 0) {
            return false;
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            if (exited(pid)) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }

    private static boolean exited(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // The state follows the command name, which is in parentheses and may itself hold any character.
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (NoSuchFileException e) {
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
