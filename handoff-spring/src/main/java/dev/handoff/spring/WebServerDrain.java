package dev.handoff.spring;

import dev.handoff.core.Takeover;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * The web servers' side of a drain (the application's server, and the management server when it has a
 * port of its own). Where a server's connections can move and the successor adopts them, each keep-alive
 * connection moves at its quiet point and no client notices. Otherwise, and for connections that cannot
 * move (TLS, HTTP/2, upgraded), every response says {@code Connection: close} (a keep-alive client closes
 * its connection after an answer, where no request can race with the close, and opens the next one to the
 * successor). Once moving is over, the keep-alive connections left here (they cannot move, or the successor
 * did not take them) are closed when they alone keep the drain going, idle. The servers' counts of open
 * connections tell when it is done. Each embedded server's
 * configuration {@linkplain #register registers} its count, how it stops accepting, and its
 * {@link MovableConnections} if it has them.
 */
public class WebServerDrain {

    private static final Logger log = LoggerFactory.getLogger(WebServerDrain.class);

    /**
     * A WebSocket connection cannot move: at the drain it gets a Close frame with this status (1001, going
     * away: RFC 6455's code for a server going down) and {@link #GOING_AWAY_REASON}, and closes once its
     * client answers with its own Close. A client that reconnects reaches the successor.
     */
    public static final int GOING_AWAY = 1001;
    public static final String GOING_AWAY_REASON = "server restarting";

    /**
     * How long idle connections that stay here (they cannot move, or the successor did not take them) must
     * have been all that keeps the old generation before they are closed, unless configured
     * ({@code handoff.idle-close-grace}): a client often sends its next request soon after its last answer (a
     * page's resources, an API's follow-up call), and the close should not meet it. No connection is
     * accepted during the drain and every answer in it closes its connection, so when all open ones have been
     * idle at every look for that long, each has been idle that long.
     */
    public static final Duration DEFAULT_IDLE_CLOSE_GRACE = Duration.ofSeconds(1);

    private final AtomicBoolean draining = new AtomicBoolean();
    private final AtomicBoolean closeFailureLogged = new AtomicBoolean();
    private final List<Server> servers = new CopyOnWriteArrayList<>();
    private final Duration idleCloseGrace;
    private volatile boolean moving;

    /** Idle connections that stay here are closed after {@link #DEFAULT_IDLE_CLOSE_GRACE}. */
    public WebServerDrain() {
        this(DEFAULT_IDLE_CLOSE_GRACE);
    }

    /**
     * @param idleCloseGrace how long idle connections that stay here must have been all that keeps the old
     *                       generation before they are closed; zero closes them at the next look
     */
    public WebServerDrain(Duration idleCloseGrace) {
        if (idleCloseGrace == null || idleCloseGrace.isNegative()) {
            throw new IllegalArgumentException("handoff.idle-close-grace must be zero or more, not " + idleCloseGrace);
        }
        this.idleCloseGrace = idleCloseGrace;
    }

    /** How long idle connections that stay here must have been all that keeps the drain before they close. */
    public Duration idleCloseGrace() {
        return idleCloseGrace;
    }

    public boolean isDraining() {
        return draining.get();
    }

    /**
     * Whether a response should say {@code Connection: close}: an HTTP/1.x response while draining, unless
     * its connection moves to the successor instead (plain HTTP/1.x on a server whose connections move: an
     * HTTP/1.0 connection the server keeps alive moves like any other, one it closes needs no header).
     * Never an HTTP/2 one: the header is forbidden there, and such a connection ends with a GOAWAY.
     *
     * @param cannotMove the connection is one that never moves: TLS, or one that began with a PROXY
     *                   protocol header (the successor's server would wait for that header first)
     */
    public boolean closesConnection(boolean cannotMove, String protocol) {
        return draining.get() && protocol.startsWith("HTTP/1.") && !(moving && !cannotMove);
    }

    /**
     * A web server takes part in the drain: how it stops accepting (its connections staying open), where
     * its open connections are counted, and how they move ({@code null}: they cannot).
     */
    public void register(Runnable stopAccepting, LongSupplier openConnections, MovableConnections movable) {
        servers.add(new Server(stopAccepting, openConnections, movable));
    }

    public long openConnections() {
        return servers.stream().mapToLong(server -> server.openConnections().getAsLong()).sum();
    }

    /**
     * Stops accepting and drains until no connection is open or the deadline passes: connections move
     * where they can, the others close after their next answer.
     */
    Outcome drain(Takeover takeover) throws InterruptedException {
        List<Mover> movers = new ArrayList<>();
        if (takeover.successorAdoptsConnections()) {
            for (Server server : servers) {
                if (server.movable() != null) {
                    movers.add(new Mover(server, new ConnectionMover(server.movable(), takeover)));
                }
            }
            moving = !movers.isEmpty(); // before draining: no response on a connection that can move says close
        }
        if (draining.compareAndSet(false, true)) {
            servers.forEach(server -> server.stopAccepting().run());
        }
        Instant deadline = takeover.deadline();
        for (Mover mover : movers) {
            mover.thread().start();
        }
        for (Mover mover : movers) {
            mover.thread().join();
        }
        moving = false; // what stays here closes after its next answer
        Map<String, Integer> unmovable = new TreeMap<>();
        for (Server server : servers) {
            if (server.movable() != null) {
                server.movable().unmovable().forEach((reason, count) -> unmovable.merge(reason, count, Integer::sum));
            }
        }
        closeUnmovable(); // HTTP/2: GOAWAY, so that it ends before the deadline
        unmovable.forEach(takeover::connectionsClosed); // they close after their next answer, or at shutdown
        long open;
        long waits = 0;
        long allIdleSince = 0; // meaningful while allIdle
        boolean allIdle = false;
        boolean closingIdle = false;
        while ((open = openConnections() + late(movers)) > 0 && Instant.now().isBefore(deadline)) {
            if (open > idleConnections()) {
                allIdle = false;
            } else if (!allIdle) {
                allIdle = true;
                allIdleSince = System.nanoTime();
            } else if (System.nanoTime() - allIdleSince >= idleCloseGrace.toNanos()) {
                // Nothing else keeps this generation: no answer is left to tell these clients to close, and
                // waiting would only hold the exit (and the next deploy) until the deadline, which closes
                // them the same way.
                if (!closingIdle) {
                    closingIdle = true;
                    log.info("closing {} idle connections that stay here: nothing else keeps this generation", open);
                }
                eachStaying(MovableConnections::closeIdleConnections);
            }
            Thread.sleep(20);
            if (++waits % 5 == 0) {
                closeUnmovable(); // those whose streams have ended since
            }
        }
        int moved = 0;
        int kept = 0; // counted now: a late release is given back after moving ended
        for (Mover mover : movers) {
            moved += mover.mover().moved();
            kept += mover.mover().kept();
        }
        return new Outcome(moved, kept, unmovable, Math.max(0, open));
    }

    /** Connections released as moving ended, on their way back into their servers: open, and counted by none. */
    private static long late(List<Mover> movers) {
        return movers.stream().mapToLong(mover -> mover.mover().late()).sum();
    }

    private void closeUnmovable() {
        eachStaying(MovableConnections::closeUnmovable);
    }

    private long idleConnections() {
        long[] idle = {0};
        eachStaying(movable -> idle[0] += movable.idleConnections());
        return idle[0];
    }

    /**
     * A step on the connections that stay here once moving is over, server by server. A server that fails at
     * it (a server version whose internals differ) only leaves its connections to close by themselves: the
     * drain, and the old generation's exit after it, go on.
     */
    private void eachStaying(Consumer<MovableConnections> step) {
        for (Server server : servers) {
            if (server.movable() != null) {
                try {
                    step.accept(server.movable());
                } catch (RuntimeException | LinkageError e) {
                    if (closeFailureLogged.compareAndSet(false, true)) {
                        log.warn("could not close the connections of '{}' that stay here; they close by themselves "
                                + "or at the drain's deadline", server.movable().listener(), e);
                    }
                }
            }
        }
    }

    /**
     * What the drain did: connections moved to the successor, kept here because it did not take them,
     * those that could not move by reason (counted when moving ended), and those still open at the end.
     */
    public record Outcome(int moved, int kept, Map<String, Integer> unmovable, long leftOpen) {
    }

    private record Server(Runnable stopAccepting, LongSupplier openConnections, MovableConnections movable) {
    }

    /** One server's connections moving, on a thread of their own: the servers drain side by side. */
    private record Mover(Thread thread, ConnectionMover mover) {
        Mover(Server server, ConnectionMover mover) {
            this(new Thread(() -> move(server, mover), "handoff-move-" + server.movable().listener()), mover);
        }

        private static void move(Server server, ConnectionMover mover) {
            try {
                mover.run(server.openConnections());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.movable().keep();
            } catch (RuntimeException e) {
                log.error("moving the connections of '{}' failed; the rest close after their next answer",
                        server.movable().listener(), e);
                server.movable().keep();
            }
        }
    }
}
