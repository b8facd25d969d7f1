package dev.handoff.core.session;

import dev.handoff.core.manifest.Manifest;

import java.io.FileDescriptor;
import java.util.List;

/**
 * A manifest and the descriptors it describes, in index order. The descriptors stay owned by the
 * incumbent's channels; sending gives the successor its own copies.
 */
public record Snapshot(Manifest manifest, List<FileDescriptor> fds) {

    public Snapshot {
        fds = List.copyOf(fds);
    }
}
