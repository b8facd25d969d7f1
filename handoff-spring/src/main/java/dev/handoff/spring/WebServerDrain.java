package dev.handoff.spring;

import dev.handoff.core.Takeover;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Instant;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * The web server's side of a drain. Where the server's connections can move and the successor adopts
 * them, each keep-alive connection moves at its quiet point and no client notices. Otherwise, and for
 * connections that cannot move (TLS, HTTP/2, upgraded), every response says {@code Connection: close}
 * (a keep-alive client closes its connection after an answer, where no request can race with the close,
 * and opens the next one to the successor). The server's count of open connections tells when it is done.
 * Each embedded server's configuration supplies the count, how it stops accepting, and its
 * {@link MovableConnections} if it has them.
 */
public class WebServerDrain {

    private static final Logger log = LoggerFactory.getLogger(WebServerDrain.class);

    private final AtomicBoolean draining = new AtomicBoolean();
    private volatile boolean moving;
    private volatile LongSupplier openConnections = () -> 0;
    private volatile Runnable stopAccepting = () -> { };
    private volatile MovableConnections movable;

    public boolean isDraining() {
        return draining.get();
    }

    /**
     * Whether a response should close its connection: while draining, unless the connection moves to the
     * successor instead (plain HTTP/1.1 on a server whose connections move).
     */
    public boolean closesConnection(boolean secure, String protocol) {
        return draining.get() && !(moving && !secure && "HTTP/1.1".equals(protocol));
    }

    /** How the server stops accepting while its connections stay open; set like the count. */
    public void stopAccepting(Runnable action) {
        this.stopAccepting = action;
    }

    /** Where the open connections are counted; set by the configuration of the embedded server in use. */
    public void openConnections(LongSupplier count) {
        this.openConnections = count;
    }

    /** The server's connections can move; set by the configuration of an embedded server that can do it. */
    public void movableConnections(MovableConnections connections) {
        this.movable = connections;
    }

    public long openConnections() {
        return openConnections.getAsLong();
    }

    /**
     * Stops accepting and drains until no connection is open or the deadline passes: connections move
     * where they can, the others close after their next answer.
     */
    Outcome drain(Takeover takeover) throws InterruptedException {
        MovableConnections connections = movable;
        ConnectionMover mover = null;
        if (connections != null && takeover.successorAdoptsConnections()) {
            mover = new ConnectionMover(connections, takeover);
            moving = true; // before draining: no response on a connection that can move says close
        }
        if (draining.compareAndSet(false, true)) {
            stopAccepting.run();
        }
        Instant deadline = takeover.deadline();
        if (mover != null) {
            try {
                mover.run(this::openConnections, deadline);
            } catch (RuntimeException e) {
                log.error("moving connections failed; the rest close after their next answer", e);
                connections.keep();
            }
            moving = false; // what stays here closes after its next answer
        }
        Map<String, Integer> unmovable = connections == null ? Map.of() : connections.unmovable();
        unmovable.forEach(takeover::connectionsClosed); // they close after their next answer, or at shutdown
        long open;
        while ((open = openConnections()) > 0 && Instant.now().isBefore(deadline)) {
            Thread.sleep(20);
        }
        return new Outcome(mover == null ? 0 : mover.moved(), mover == null ? 0 : mover.kept(), unmovable,
                Math.max(0, open));
    }

    /**
     * What the drain did: connections moved to the successor, kept here because it did not take them,
     * those that could not move by reason (counted when moving ended), and those still open at the end.
     */
    public record Outcome(int moved, int kept, Map<String, Integer> unmovable, long leftOpen) {
    }
}
