package dev.handoff.spring.diagnostics;

import dev.handoff.core.RendezvousDirectoryException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** The directory of {@code handoff.socket} belongs to someone else, or others may enter it. */
public final class RendezvousDirectoryFailureAnalyzer extends AbstractFailureAnalyzer<RendezvousDirectoryException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, RendezvousDirectoryException cause) {
        String directory = cause.directory().toString();
        return new FailureAnalysis("Handoff will not use the directory of handoff.socket: " + cause.getMessage(),
                "Give handoff.socket a directory that only the user running the application can enter "
                        + "(mkdir -m 700 " + directory + ", or chmod 700 " + directory + " and chown it to that "
                        + "user), or a path in a directory of its own: under systemd, RuntimeDirectory= with "
                        + "RuntimeDirectoryMode=0700; in containers, a volume directory made 0700 for the "
                        + "container's user. Every generation must use the same path.", cause);
    }
}
