package dev.handoff.spring.diagnostics;

import dev.handoff.core.SecretFileException;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/** The file of {@code handoff.shared-secret-file} refused, the way ssh refuses a private key. */
public final class SecretFileFailureAnalyzer extends AbstractFailureAnalyzer<SecretFileException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, SecretFileException cause) {
        String file = cause.file().toString();
        return new FailureAnalysis("Handoff refused handoff.shared-secret-file: " + cause.getMessage(),
                "Name a regular file (not a link) that belongs to the user running the application and that "
                        + "only it can read (chmod 600 " + file + "), holding the secret (16 bytes or more); every "
                        + "generation needs the same secret, or none (remove handoff.shared-secret-file).", cause);
    }
}
