package dev.handoff.spring;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;

/**
 * The web server's side of a drain: once draining, every response says {@code Connection: close} (so a
 * keep-alive client closes its connection after an answer, where no request can race with the close,
 * and opens the next one to the successor), and the server's count of open connections tells when it
 * is done. Each embedded server's configuration supplies that count.
 */
public class WebServerDrain {

    private final AtomicBoolean draining = new AtomicBoolean();
    private volatile LongSupplier openConnections = () -> 0;
    private volatile Runnable stopAccepting = () -> { };

    public boolean isDraining() {
        return draining.get();
    }

    /** Answers with {@code Connection: close} from now on, and stops accepting. */
    void start() {
        if (draining.compareAndSet(false, true)) {
            stopAccepting.run();
        }
    }

    /** How the server stops accepting while its connections stay open; set like the count. */
    public void stopAccepting(Runnable action) {
        this.stopAccepting = action;
    }

    /** Where the open connections are counted; set by the configuration of the embedded server in use. */
    public void openConnections(LongSupplier count) {
        this.openConnections = count;
    }

    public long openConnections() {
        return openConnections.getAsLong();
    }
}
