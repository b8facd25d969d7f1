package dev.handoff.spring.warmup;

import dev.handoff.core.Handoff;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ApplicationContext;
import org.springframework.context.SmartLifecycle;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A successor's request path, warmed before its web server accepts on the listener it inherited (and so
 * before READY): requests through the application's own handlers on a {@link PrivateConnector}, while the
 * predecessor serves everyone. A fresh JVM interprets its code at first; without this, the first requests
 * after a takeover would wait for the JIT. Bounded by a count and a time; a failure only means serving
 * cold. A cold start (generation 1) skips it: nobody else serves meanwhile.
 *
 * <p>As a lifecycle bean it runs just before the web server starts, through the {@link PrivateConnectorOpener}
 * that knows the server. A server whose application is not ready to answer until its own start (Jetty,
 * which initialises its servlets there) calls {@link #run} itself, between that start and its accepting.
 */
public class RequestPathWarmUp implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(RequestPathWarmUp.class);

    private final Handoff handoff;
    private final ApplicationContext context;
    private final List<PrivateConnectorOpener> openers;
    private final List<String> paths;
    private final int requests;
    private final Duration timeout;
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile boolean running;

    public RequestPathWarmUp(Handoff handoff, ApplicationContext context, List<PrivateConnectorOpener> openers,
                             List<String> paths, int requests, Duration timeout) {
        this.handoff = handoff;
        this.context = context;
        this.openers = openers;
        this.paths = List.copyOf(paths);
        this.requests = requests;
        this.timeout = timeout;
    }

    /** Just before the web server starts, and with it, accepts. */
    @Override
    public int getPhase() {
        return WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE - 1;
    }

    @Override
    public void start() {
        running = true;
        if (context instanceof WebServerApplicationContext web && web.getWebServer() != null) {
            WebServer server = web.getWebServer();
            for (PrivateConnectorOpener opener : openers) {
                if (opener.opens(server)) {
                    run(() -> opener.open(server, context));
                    return;
                }
            }
        }
    }

    /** Warms up through the connector {@code open} opens, unless this process needs none or has warmed up. */
    public void run(Callable<PrivateConnector> open) {
        if (handoff.isInherited() && requests > 0 && !paths.isEmpty() && done.compareAndSet(false, true)) {
            warmUp(open);
        }
    }

    @Override
    public void stop() {
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    private void warmUp(Callable<PrivateConnector> open) {
        long start = System.nanoTime();
        try (PrivateConnector connector = open.call()) {
            WarmUpClient.Outcome outcome = WarmUpClient.run(connector.address(), paths, requests, start + timeout.toNanos());
            log.info("warmed up before READY: {} requests to {} in {} ms on a private loopback connector, answered {}",
                    outcome.requests(), paths, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), outcome.statuses());
        } catch (Exception e) {
            log.warn("the warm-up failed after {} ms; serving cold", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), e);
        }
    }
}
