package dev.handoff.core;

import com.fasterxml.jackson.databind.JsonNode;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdDescription;
import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.manifest.FileEntry;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.session.Inheritance;
import dev.handoff.core.session.Snapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileDescriptor;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.SocketOption;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The sockets and files this process serves and shares, by name: each comes from the predecessor when it
 * handed one over under that name, from systemd socket activation on a cold start, or is bound fresh.
 * Describes them for the next handoff. Owns its maps; every method that touches them holds its lock.
 */
final class ListenerRegistry {

    private static final Logger log = LoggerFactory.getLogger(ListenerRegistry.class);

    private final Inheritance inherited; // null on a cold start
    private final Map<String, FileDescriptor> activated; // systemd's sockets nobody claimed yet
    private final int backlog;
    private final Map<String, NetworkChannel> listeners = new LinkedHashMap<>();
    private final Map<String, FileDescriptor> files = new LinkedHashMap<>();
    private volatile Supplier<? extends JsonNode> state = () -> null;

    ListenerRegistry(Inheritance inherited, Map<String, FileDescriptor> activated, int backlog) {
        this.inherited = inherited;
        this.activated = new LinkedHashMap<>(activated);
        this.backlog = backlog;
    }

    synchronized ServerSocketChannel listen(String name, InetSocketAddress address) throws IOException {
        return listener(name, address, ListenerEntry.Protocol.TCP, Channels::serverSocketChannel, () -> {
            ServerSocketChannel channel = ServerSocketChannel.open(familyOf(address));
            try {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                channel.bind(address, backlog);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return channel;
        });
    }

    synchronized DatagramChannel listenDatagram(String name, InetSocketAddress address) throws IOException {
        return listener(name, address, ListenerEntry.Protocol.UDP, Channels::datagramChannel, () -> {
            DatagramChannel channel = DatagramChannel.open(familyOf(address));
            try {
                channel.bind(address);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return channel;
        });
    }

    private <C extends NetworkChannel> C listener(String name, InetSocketAddress address, ListenerEntry.Protocol protocol,
                                                  Rebuild<C> rebuild, BindFresh<C> bindFresh) throws IOException {
        checkName(name);
        Optional<FileDescriptor> reused = inherited == null ? activated(name, address, protocol)
                : inherited(name, address, protocol);
        C channel;
        if (reused.isPresent()) {
            try {
                channel = rebuild.from(reused.get());
            } catch (IOException | RuntimeException e) {
                Fds.closeQuietly(reused.get());
                throw e;
            }
            log.info("{} listener '{}' inherited on {}", protocol, name, channel.getLocalAddress());
        } else {
            channel = bindFresh.open();
            log.info("{} listener '{}' bound fresh on {}", protocol, name, channel.getLocalAddress());
        }
        listeners.put(name, channel);
        return channel;
    }

    private interface Rebuild<C> {
        C from(FileDescriptor fd) throws IOException;
    }

    private interface BindFresh<C> {
        C open() throws IOException;
    }

    /** The predecessor's socket of that name, if it is the protocol and address asked for (port 0: any port). */
    private Optional<FileDescriptor> inherited(String name, InetSocketAddress wanted, ListenerEntry.Protocol protocol) {
        Optional<Inheritance.Item> claimed = inherited.claim(name);
        if (claimed.isEmpty()) {
            return Optional.empty();
        }
        Inheritance.Item item = claimed.get();
        if (item.listener() == null || item.listener().protocol() != protocol
                || !matches(wanted, item.description().localAddress())) {
            log.warn("inherited '{}' is {} but {} {} was asked for; closing it and binding fresh", name,
                    item.description(), protocol, wanted);
            Fds.closeQuietly(item.fd());
            return Optional.empty();
        }
        return Optional.of(item.fd());
    }

    /** On a cold start, the socket systemd passed under {@code name} (socket activation), if it fits. */
    private Optional<FileDescriptor> activated(String name, InetSocketAddress wanted, ListenerEntry.Protocol protocol) {
        FileDescriptor fd = activated.remove(name);
        if (fd == null) {
            return Optional.empty();
        }
        try {
            FdDescription description = FdInspector.describe(fd);
            FdType expected = protocol == ListenerEntry.Protocol.UDP ? FdType.UDP : FdType.TCP_LISTENER;
            if (description.type() == expected && matches(wanted, description.localAddress())) {
                log.info("listener '{}' from systemd socket activation: {}", name, description);
                return Optional.of(fd);
            }
            log.warn("systemd passed '{}' as {} but {} {} was asked for; closing it and binding fresh", name,
                    description, protocol, wanted);
        } catch (IOException e) {
            log.warn("systemd passed '{}' but it cannot be used: {}", name, e.getMessage());
        }
        Fds.closeQuietly(fd);
        return Optional.empty();
    }

    private static boolean matches(InetSocketAddress wanted, InetSocketAddress actual) {
        return (wanted.getPort() == 0 || wanted.getPort() == actual.getPort()) && wanted.getAddress().equals(actual.getAddress());
    }

    /** Claims a descriptor the predecessor shared under {@code name}; the caller owns it from now on. */
    synchronized Optional<FileDescriptor> inheritedFile(String name) {
        return inherited == null ? Optional.empty()
                : inherited.claim(name).filter(item -> item.file() != null).map(Inheritance.Item::fd);
    }

    synchronized void shareFile(String name, FileDescriptor fd) {
        checkName(name);
        files.put(name, fd);
    }

    Optional<JsonNode> inheritedState() {
        return inherited == null ? Optional.empty() : Optional.ofNullable(inherited.manifest().state());
    }

    void stateProvider(Supplier<? extends JsonNode> provider) {
        this.state = provider;
    }

    synchronized Map<String, InetSocketAddress> addresses() {
        Map<String, InetSocketAddress> addresses = new LinkedHashMap<>();
        for (Map.Entry<String, NetworkChannel> listener : listeners.entrySet()) {
            try {
                addresses.put(listener.getKey(), (InetSocketAddress) listener.getValue().getLocalAddress());
            } catch (IOException e) {
                // closed: no longer served
            }
        }
        return addresses;
    }

    /** Closes what was inherited or passed by systemd and nobody asked for (this process serves now). */
    synchronized void closeUnclaimed() {
        if (inherited != null) {
            List<String> unclaimed = inherited.closeUnclaimed();
            if (!unclaimed.isEmpty()) {
                log.info("closed inherited descriptors nobody claimed: {}", unclaimed);
            }
        }
        if (!activated.isEmpty()) {
            log.info("closing sockets from systemd that no listener asked for: {}", activated.keySet());
            Fds.closeQuietly(activated.values());
            activated.clear();
        }
    }

    /**
     * Closes every listener handed out (this process's copies: a predecessor's stay open), waking any
     * thread that accepts on one: this process withdraws and must not serve.
     */
    synchronized void closeAll() {
        for (Map.Entry<String, NetworkChannel> entry : listeners.entrySet()) {
            try {
                entry.getValue().close();
            } catch (IOException e) {
                log.debug("closing listener {} failed", entry.getKey(), e);
            }
        }
        closeUnclaimed();
    }

    /** The manifest for a successor and the descriptors it describes, as the listeners are now. */
    synchronized Snapshot snapshot(int generation) throws IOException {
        List<ListenerEntry> listenerEntries = new ArrayList<>();
        List<FileEntry> fileEntries = new ArrayList<>();
        List<FileDescriptor> fds = new ArrayList<>();
        for (Map.Entry<String, NetworkChannel> entry : listeners.entrySet()) {
            NetworkChannel channel = entry.getValue();
            if (!channel.isOpen()) {
                continue;
            }
            listenerEntries.add(entryOf(entry.getKey(), channel, fds.size()));
            fds.add(Channels.fileDescriptor(channel));
        }
        for (Map.Entry<String, FileDescriptor> entry : files.entrySet()) {
            if (!entry.getValue().valid()) {
                continue;
            }
            fileEntries.add(new FileEntry(entry.getKey(), FdInspector.describe(entry.getValue()).type(), fds.size()));
            fds.add(entry.getValue());
        }
        Manifest manifest = new Manifest(Manifest.SCHEMA, ProcessHandle.current().pid(), generation, listenerEntries,
                fileEntries, state.get());
        return new Snapshot(manifest, fds);
    }

    /** The manifest's entry for the listener {@code name} on {@code channel}, whose descriptor travels at {@code index}. */
    static ListenerEntry entryOf(String name, NetworkChannel channel, int index) throws IOException {
        FdDescription description = FdInspector.describe(Channels.fileDescriptor(channel));
        return new ListenerEntry(name, description.type() == FdType.UDP ? ListenerEntry.Protocol.UDP : ListenerEntry.Protocol.TCP,
                description.family().name(), description.localAddress().getAddress().getHostAddress(),
                description.localAddress().getPort(), index, socketOptions(channel));
    }

    private static Map<String, String> socketOptions(NetworkChannel channel) {
        Map<String, String> values = new TreeMap<>();
        for (SocketOption<?> option : channel.supportedOptions()) {
            try {
                values.put(option.name(), String.valueOf(channel.getOption(option)));
            } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
                // not readable on this socket: leave it out
            }
        }
        return values;
    }

    private void checkName(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a name is required");
        }
        if (listeners.containsKey(name) || files.containsKey(name)) {
            throw new IllegalArgumentException("name '" + name + "' is already in use");
        }
    }

    private static StandardProtocolFamily familyOf(InetSocketAddress address) {
        return address.getAddress() instanceof Inet4Address ? StandardProtocolFamily.INET : StandardProtocolFamily.INET6;
    }
}
