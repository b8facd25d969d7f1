package dev.handoff.spring.diagnostics;

import dev.handoff.core.RendezvousPathException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** The path of {@code handoff.socket}: its directory belongs to someone else or others may enter it, or it is too long. */
public final class RendezvousPathFailureAnalyzer extends AbstractFailureAnalyzer<RendezvousPathException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, RendezvousPathException cause) {
        String directory = cause.directory().toString();
        String action = switch (cause.problem()) {
            case DIRECTORY -> "Give handoff.socket a directory that only the user running the application can enter "
                    + "(mkdir -m 700 " + directory + ", or chmod 700 " + directory + " and chown it to that user), "
                    + "or a path in a directory of its own: under systemd, RuntimeDirectory= with "
                    + "RuntimeDirectoryMode=0700; in containers, a volume directory made 0700 for the container's "
                    + "user. Every generation must use the same path.";
            case TOO_LONG -> "Give handoff.socket a shorter path, such as /run/<app>/handoff.sock (under systemd, "
                    + "RuntimeDirectory=<app>), the same for every generation.";
        };
        return new FailureAnalysis("Handoff cannot use handoff.socket: " + cause.getMessage(), action, cause);
    }
}
