package dev.handoff.core.manifest;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * What an incumbent hands its successor: named listeners, other named file descriptors, and the
 * application's own state. Each entry names the index of its descriptor among those sent with the
 * manifest; the successor checks every descriptor against its entry before using it.
 *
 * @param schema     manifest schema version ({@link #SCHEMA})
 * @param pid        the incumbent's process id
 * @param generation the incumbent's generation (the first process is generation 1)
 * @param listeners  listening sockets
 * @param files      other descriptors the application registered
 * @param state      opaque application state, or null
 */
public record Manifest(int schema, long pid, int generation, List<ListenerEntry> listeners, List<FileEntry> files,
                       JsonNode state) {

    public static final int SCHEMA = 1;

    public Manifest {
        listeners = listeners == null ? List.of() : List.copyOf(listeners);
        files = files == null ? List.of() : List.copyOf(files);
    }

    /** How many descriptors travel with this manifest. */
    public int fdCount() {
        return listeners.size() + files.size();
    }
}
