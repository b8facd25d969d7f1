package dev.handoff.core.session;

import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.manifest.FileEntry;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;

import java.io.FileDescriptor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a successor received: validated descriptors by name, until the application claims them.
 * Whatever is not claimed is closed by {@link #closeUnclaimed()}.
 */
public final class Inheritance {

    /** A received descriptor, what the manifest said of it and what the kernel says of it. */
    public record Item(String name, FileDescriptor fd, FdDescription description, ListenerEntry listener,
                       FileEntry file) {
    }

    private final Manifest manifest;
    private final Map<String, Item> unclaimed = new LinkedHashMap<>();

    Inheritance(Manifest manifest, List<FileDescriptor> fds, List<FdDescription> descriptions) {
        this.manifest = manifest;
        for (ListenerEntry listener : manifest.listeners()) {
            unclaimed.put(listener.name(), new Item(listener.name(), fds.get(listener.fd()),
                    descriptions.get(listener.fd()), listener, null));
        }
        for (FileEntry file : manifest.files()) {
            unclaimed.put(file.name(), new Item(file.name(), fds.get(file.fd()), descriptions.get(file.fd()), null, file));
        }
    }

    public Manifest manifest() {
        return manifest;
    }

    /** Takes the named item: from now on the caller owns its descriptor. */
    public synchronized Optional<Item> claim(String name) {
        return Optional.ofNullable(unclaimed.remove(name));
    }

    public synchronized List<String> unclaimedNames() {
        return List.copyOf(unclaimed.keySet());
    }

    /** Closes every descriptor nobody claimed; returns their names. */
    public synchronized List<String> closeUnclaimed() {
        List<String> names = List.copyOf(unclaimed.keySet());
        for (Item item : unclaimed.values()) {
            Fds.closeQuietly(item.fd());
        }
        unclaimed.clear();
        return names;
    }
}
