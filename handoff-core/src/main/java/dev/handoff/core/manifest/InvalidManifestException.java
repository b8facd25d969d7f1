package dev.handoff.core.manifest;

import java.io.IOException;
import java.util.List;

/** A manifest that does not match the descriptors that arrived with it, or is malformed. */
public class InvalidManifestException extends IOException {

    private final List<String> problems;

    public InvalidManifestException(List<String> problems) {
        super("invalid handoff manifest: " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
