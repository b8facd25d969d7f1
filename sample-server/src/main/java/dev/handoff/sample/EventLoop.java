package dev.handoff.sample;

import dev.handoff.core.Connection;
import dev.handoff.core.Takeover;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One selector thread that serves every listener and connection. When told to drain it stops accepting,
 * lets in-flight answers finish, and then gives each quiet connection to the successor (or closes it when
 * there is none), until no connection is left or the drain deadline passes.
 */
final class EventLoop implements Runnable {

    /** How a drain ended. */
    record DrainReport(int handedOver, int closedQuiet, int closedAtDeadline, Duration took) {
    }

    private final Selector selector;
    private final Map<String, Protocol> protocols;
    private final Map<String, ServerSocketChannel> listeners = new HashMap<>();
    private final Set<ClientConnection> connections = new LinkedHashSet<>();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "timers");
        thread.setDaemon(true);
        return thread;
    });
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(64 * 1024);
    private Drain drain;

    EventLoop(Map<String, Protocol> protocols) throws IOException {
        this.selector = Selector.open();
        this.protocols = protocols;
    }

    /** Serves {@code channel}, whose connections speak the protocol registered under {@code name}. */
    void listen(String name, ServerSocketChannel channel) {
        execute(() -> {
            try {
                channel.configureBlocking(false);
                channel.register(selector, SelectionKey.OP_ACCEPT, name);
                listeners.put(name, channel);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Takes over a connection a predecessor handed over (called on a handoff thread). */
    void adopt(Connection handed) {
        execute(() -> {
            Protocol protocol = protocols.get(handed.listener());
            if (protocol == null) {
                closeQuietly(handed.channel());
                return;
            }
            ClientConnection connection = new ClientConnection(this, handed.channel(), handed.listener(), protocol,
                    handed.attachment());
            connection.append(handed.unread());
            if (register(connection)) {
                connection.process(); // the unread bytes may hold a whole request already
            }
        });
    }

    /** Runs {@code task} on the loop thread. */
    void execute(Runnable task) {
        tasks.add(task);
        selector.wakeup();
    }

    /** Runs {@code task} on the loop thread after {@code millis}. */
    void schedule(long millis, Runnable task) {
        timers.schedule(() -> execute(task), millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Stops accepting and drains: quiet connections go to the successor of {@code takeover} when it takes
     * them (with no takeover, a plain stop, they are closed), until none is left or the deadline passes.
     * {@code done} runs on the loop thread at the end. Should the successor vanish while connections move
     * to it, {@code resumed} runs instead and this loop serves on as before. The listeners stay open (not
     * accepting) until the end for that reason.
     */
    void drain(Takeover takeover, Instant deadline, Consumer<DrainReport> done, Runnable resumed) {
        execute(() -> {
            if (drain != null) {
                return;
            }
            for (ServerSocketChannel listener : listeners.values()) {
                SelectionKey key = listener.keyFor(selector);
                if (key != null) {
                    key.cancel();
                }
            }
            drain = new Drain(takeover, System.nanoTime(), deadline, done, resumed);
        });
    }

    private void resume() throws IOException {
        selector.selectNow(); // lets the cancelled listener keys go before they register again
        for (Map.Entry<String, ServerSocketChannel> listener : listeners.entrySet()) {
            listener.getValue().register(selector, SelectionKey.OP_ACCEPT, listener.getKey());
        }
        Runnable resumed = drain.resumed;
        drain = null;
        resumed.run();
    }

    @Override
    public void run() {
        try {
            while (true) {
                selector.select(drain == null ? 0 : 10);
                Runnable task;
                while ((task = tasks.poll()) != null) {
                    task.run();
                }
                Iterator<SelectionKey> selected = selector.selectedKeys().iterator();
                while (selected.hasNext()) {
                    SelectionKey key = selected.next();
                    selected.remove();
                    if (key.isValid()) {
                        handle(key);
                    }
                }
                if (drain != null && drain.step()) {
                    listeners.values().forEach(EventLoop::closeQuietly);
                    selector.close();
                    return;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void handle(SelectionKey key) {
        if (key.attachment() instanceof String listener) {
            accept((ServerSocketChannel) key.channel(), listener);
            return;
        }
        ClientConnection connection = (ClientConnection) key.attachment();
        if (key.isWritable()) {
            connection.flush();
        }
        if (key.isValid() && key.isReadable()) {
            read(connection);
        }
    }

    private void accept(ServerSocketChannel listener, String name) {
        try {
            SocketChannel channel;
            // A few at a time: the other process may take the rest of the queue during a handoff.
            for (int i = 0; i < 64 && (channel = listener.accept()) != null; i++) {
                register(new ClientConnection(this, channel, name, protocols.get(name), null));
            }
        } catch (IOException e) {
            System.err.println("accept on " + name + " failed: " + e);
        }
    }

    private boolean register(ClientConnection connection) {
        try {
            connection.channel().configureBlocking(false);
            connection.key(connection.channel().register(selector, SelectionKey.OP_READ, connection));
            connections.add(connection);
            return true;
        } catch (IOException e) {
            closeQuietly(connection.channel());
            return false;
        }
    }

    private void read(ClientConnection connection) {
        try {
            readBuffer.clear();
            int n = connection.channel().read(readBuffer);
            if (n < 0) {
                close(connection);
                return;
            }
            readBuffer.flip();
            connection.append(readBuffer);
            connection.process();
        } catch (IOException e) {
            close(connection);
        }
    }

    void close(ClientConnection connection) {
        connections.remove(connection);
        closeQuietly(connection.channel());
    }

    private static void closeQuietly(java.io.Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    /** The drain in progress. */
    private final class Drain {
        private final Takeover takeover;
        private final long start;
        private final Instant deadline;
        private final Consumer<DrainReport> done;
        private final Runnable resumed;
        private final Set<ClientConnection> refused = new java.util.HashSet<>();
        private int handedOver;
        private int closedQuiet;

        Drain(Takeover takeover, long start, Instant deadline, Consumer<DrainReport> done, Runnable resumed) {
            this.takeover = takeover;
            this.start = start;
            this.deadline = deadline;
            this.done = done;
            this.resumed = resumed;
        }

        /** One pass: moves or closes what is quiet; true once the drain is over. */
        boolean step() throws IOException {
            // A successor that died after it took over leaves the listeners to nobody: serve them again.
            if (takeover != null && takeover.isSuccessorLost() && takeover.resume()) {
                resume();
                return false;
            }
            List<ClientConnection> toMove = new ArrayList<>();
            for (ClientConnection connection : new ArrayList<>(connections)) {
                if (!connection.isQuiet()) {
                    continue;
                }
                if (takeover != null && takeover.successorAdoptsConnections() && !refused.contains(connection)) {
                    toMove.add(connection);
                } else {
                    close(connection);
                    closedQuiet++;
                }
            }
            if (!toMove.isEmpty() && !handOver(toMove)) {
                resume();
                return false;
            }
            if (connections.isEmpty()) {
                finish(0);
                return true;
            }
            if (!Instant.now().isBefore(deadline)) {
                int left = connections.size();
                new ArrayList<>(connections).forEach(EventLoop.this::close);
                finish(left);
                return true;
            }
            return false;
        }

        /** False when the successor went away and this process serves on instead. */
        private boolean handOver(List<ClientConnection> quiet) throws IOException {
            for (ClientConnection connection : quiet) {
                connection.key().cancel();
            }
            selector.selectNow(); // deregisters them; keys it selects stay queued for the next pass
            List<Connection> offered = new ArrayList<>(quiet.size());
            for (ClientConnection connection : quiet) {
                offered.add(connection.toHandoff());
            }
            Set<SocketChannel> kept = new java.util.HashSet<>();
            for (Connection connection : takeover.handOver(offered)) {
                kept.add(connection.channel());
            }
            for (ClientConnection connection : quiet) {
                connections.remove(connection);
                if (kept.contains(connection.channel())) {
                    refused.add(connection); // served here until quiet again, then closed
                    register(connection);
                } else {
                    handedOver++;
                }
            }
            return kept.isEmpty() || !takeover.resume();
        }

        private void finish(int closedAtDeadline) {
            timers.shutdownNow();
            done.accept(new DrainReport(handedOver, closedQuiet, closedAtDeadline, Duration.ofNanos(System.nanoTime() - start)));
        }
    }
}
