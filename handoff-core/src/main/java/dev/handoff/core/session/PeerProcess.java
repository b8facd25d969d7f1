package dev.handoff.core.session;

import dev.handoff.core.fd.PeerLifeline;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Whether the process at the other end of a session is gone: from its lifeline when it sent one (this
 * works across pid namespaces, where {@code SO_PEERCRED} says pid 0), else from /proc (a version 1 peer).
 * A channel that ends says nothing about this: a peer ends the traffic on purpose too.
 */
final class PeerProcess implements Closeable {

    /** How long a killed peer may take to finish exiting once its end of the channel is gone. */
    static final Duration EXIT_WAIT = Duration.ofSeconds(2);

    private final long pid;
    private final PeerLifeline lifeline; // null: none was sent

    private PeerProcess(long pid, PeerLifeline lifeline) {
        this.pid = pid;
        this.lifeline = lifeline;
    }

    static PeerProcess of(long pid, PeerLifeline lifeline) {
        return new PeerProcess(pid, lifeline);
    }

    /** A peer known only by its pid (before its lifeline arrived, or a version 1 peer). */
    static PeerProcess ofPid(long pid) {
        return new PeerProcess(pid, null);
    }

    boolean hasLifeline() {
        return lifeline != null;
    }

    /**
     * Whether the peer is gone within {@code wait}. A process killed with SIGKILL closes its descriptors
     * while it exits, so its channel may end a moment before its lifeline does, or before /proc shows it
     * gone. Without a lifeline, false for a pid this namespace cannot see (0 or less).
     */
    boolean isGone(Duration wait) {
        if (lifeline != null) {
            return lifeline.isGone(wait);
        }
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

    @Override
    public void close() {
        if (lifeline != null) {
            lifeline.close();
        }
    }
}
