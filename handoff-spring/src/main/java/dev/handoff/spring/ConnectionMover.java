package dev.handoff.spring;

import dev.handoff.core.Connection;
import dev.handoff.core.Takeover;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The drain of a server whose connections move: connections released at their quiet point are handed
 * to the successor in batches, idle ones are woken every {@link #WAKE_EVERY_MILLIS} so that they move
 * without waiting for their clients, until none is left or the deadline passes. A connection the
 * successor does not take goes back into the server, which then keeps all it has.
 */
final class ConnectionMover {

    private static final Logger log = LoggerFactory.getLogger(ConnectionMover.class);
    // Often: a connection a wake-up missed (its request had just ended) moves that much later, and the
    // old generation waits for its last one. The servers skip connections already woken or released.
    private static final long WAKE_EVERY_MILLIS = 10;
    private static final long DEREGISTER_WAIT_MILLIS = 100;
    // A released connection's key is dropped at its selector's next pass, which the server wakes it for.
    private static final long GIVE_BACK_WAIT_MILLIS = 5_000;

    private final MovableConnections server;
    private final Takeover takeover;
    private final LinkedBlockingQueue<Connection> released = new LinkedBlockingQueue<>();
    private final Object finishing = new Object();
    private boolean finished; // guarded by finishing: a connection released after it goes back
    private int moved;
    private int kept; // guarded by finishing
    private int late; // guarded by finishing: late releases not given back yet

    ConnectionMover(MovableConnections server, Takeover takeover) {
        this.server = server;
        this.takeover = takeover;
    }

    /**
     * Moves connections until {@code open} says none is left but those that cannot move, or the successor
     * stops taking them, or the takeover's deadline.
     */
    void run(LongSupplier open) throws InterruptedException {
        try {
            moveUntilDone(open);
        } finally {
            finish(); // however it ended, a failure too: what was released and not moved goes back
        }
    }

    private void moveUntilDone(LongSupplier open) throws InterruptedException {
        Instant deadline = takeover.deadline();
        server.release(this::take);
        long nextWake = 0;
        long neverMoving = 0; // counted at each wake-up: connections open here that cannot move at all
        while (Instant.now().isBefore(deadline)) {
            if (open.getAsLong() <= neverMoving && released.isEmpty()) {
                // The count is up to a wake-up old: one of them that closed since would hide a movable one.
                // Counted again after reading the open ones, a close in between can only make moving go on.
                long openNow = open.getAsLong();
                neverMoving = neverMoving();
                if (openNow <= neverMoving && released.isEmpty()) {
                    return;
                }
            }
            if (!takeover.successorAdoptsConnections()) {
                return;
            }
            long now = System.nanoTime();
            if (now - nextWake >= 0) {
                server.wakeIdle();
                neverMoving = neverMoving();
                nextWake = now + TimeUnit.MILLISECONDS.toNanos(WAKE_EVERY_MILLIS);
            }
            Connection first = released.poll(5, TimeUnit.MILLISECONDS);
            if (first == null) {
                continue;
            }
            List<Connection> batch = new ArrayList<>();
            batch.add(first);
            released.drainTo(batch);
            batch = deregistered(batch);
            for (Connection gone : batch.stream().filter(connection -> !connection.channel().isOpen()).toList()) {
                log.warn("a released connection was closed before it could move: {}", gone.channel());
                batch.remove(gone);
                server.moved(gone);
            }
            // The server forgets each batch as soon as it has moved, while the next ones travel.
            List<Connection> stayed;
            try {
                stayed = takeover.handOver(batch, server::moved);
            } catch (RuntimeException e) {
                // It refuses a batch before sending any (a channel still registered): all of it stays.
                log.error("could not hand over {} connections; they stay with this process", batch.size(), e);
                stayed = batch;
            }
            moved += batch.size() - stayed.size();
            if (!stayed.isEmpty()) {
                // Releasing stops first: a connection given back while it still ran could be released again
                // (its client's next request, a wake-up) and given back twice.
                finish();
                giveBack(stayed);
                return;
            }
        }
    }

    private long neverMoving() {
        return server.unmovable().values().stream().mapToLong(Integer::longValue).sum();
    }

    private void take(Connection connection) {
        synchronized (finishing) {
            if (!finished) {
                released.add(connection);
                return;
            }
            late++;
        }
        // Its release was under way when moving ended, and the server's thread is in the middle of it:
        // given back on that thread, the server could forget it as it ends the release. So it goes back
        // from a thread of its own.
        Thread giving = new Thread(() -> {
            try {
                giveBackOnceDeregistered(List.of(connection));
            } finally {
                synchronized (finishing) {
                    late--;
                }
            }
        }, "handoff-give-back-" + server.listener());
        giving.setDaemon(true);
        giving.start();
    }

    /** Moving ends (again is harmless): the server keeps what it has, and gets back what was released and not moved. */
    private void finish() {
        server.keep();
        List<Connection> rest = new ArrayList<>();
        synchronized (finishing) {
            finished = true;
            released.drainTo(rest);
        }
        giveBackOnceDeregistered(rest);
    }

    /**
     * Released connections go back once their selectors have dropped their keys (those that were queued may
     * not have yet): registered again before that, Tomcat's poller would never poll one, and Jetty would
     * close it. One still registered after a wait is closed, as is each left when this thread is interrupted.
     */
    private void giveBackOnceDeregistered(List<Connection> connections) {
        List<Connection> back = new ArrayList<>(connections.size());
        int looked = 0;
        try {
            for (; looked < connections.size(); looked++) {
                Connection connection = connections.get(looked);
                if (awaitDeregistered(connection, deadlineIn(GIVE_BACK_WAIT_MILLIS))) {
                    back.add(connection);
                } else {
                    log.warn("a released connection stayed registered with its selector; closing it: {}",
                            connection.channel());
                    closeQuietly(connection);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            connections.subList(looked, connections.size()).forEach(ConnectionMover::closeQuietly);
        }
        giveBack(back);
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.channel().close();
        } catch (IOException e) {
            log.debug("closing {} failed", connection.channel(), e);
        }
    }

    int moved() {
        return moved;
    }

    /** Connections that went back into the server because the successor did not take them. */
    int kept() {
        synchronized (finishing) {
            return kept;
        }
    }

    /**
     * Connections released as moving ended and not back in the server yet: open, and counted by neither the
     * server nor the successor meanwhile.
     */
    int late() {
        synchronized (finishing) {
            return late;
        }
    }

    private void giveBack(List<Connection> connections) {
        if (!connections.isEmpty()) {
            log.info("{} connections stay with this process and are served to their end", connections.size());
        }
        for (Connection connection : connections) {
            synchronized (finishing) {
                kept++;
            }
            server.giveBack(connection);
        }
    }

    /**
     * The server cancelled their keys and its selector deregisters them on its next pass: those still
     * registered after a short wait go back to the queue for the next batch.
     */
    private List<Connection> deregistered(List<Connection> batch) throws InterruptedException {
        long until = deadlineIn(DEREGISTER_WAIT_MILLIS);
        List<Connection> ready = new ArrayList<>(batch.size());
        for (Connection connection : batch) {
            if (awaitDeregistered(connection, until)) {
                ready.add(connection);
            } else {
                released.add(connection);
            }
        }
        return ready;
    }

    private static long deadlineIn(long millis) {
        return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    }

    /** Whether the connection has left every selector by {@code until} ({@link System#nanoTime()}). */
    private static boolean awaitDeregistered(Connection connection, long until) throws InterruptedException {
        while (connection.channel().isRegistered() && System.nanoTime() - until < 0) {
            Thread.sleep(1);
        }
        return !connection.channel().isRegistered();
    }
}
