package dev.handoff.spring.jetty;

import dev.handoff.core.Handoff;
import dev.handoff.spring.WebServerDrain;
import dev.handoff.spring.warmup.RequestPathWarmUp;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.component.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.jetty.JettyWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens Jetty's network connectors (the application's, and any it added) on the listening sockets the
 * {@link Handoff} gives them, before Jetty would bind them, makes their HTTP/1.1 connections movable and
 * adopts those their predecessors hand over, and tells the drain how to stop accepting, how many
 * connections are open and how they move.
 */
public class HandoffJettyCustomizer implements WebServerFactoryCustomizer<JettyWebServerFactory>, Ordered {

    private static final Logger log = LoggerFactory.getLogger(HandoffJettyCustomizer.class);
    private static final Method INTERRUPT_ACCEPTORS = interruptAcceptors();

    private final Handoff handoff;
    private final WebServerDrain drain;
    private final String listener;
    private final RequestPathWarmUp warmUp;

    /** For the server whose listener is handed over under the name {@code listener} ({@code http}, {@code management}). */
    public HandoffJettyCustomizer(Handoff handoff, WebServerDrain drain, String listener) {
        this(handoff, drain, listener, null);
    }

    /** The same, with the request path warmed up before the first connector accepts ({@code null}: not). */
    public HandoffJettyCustomizer(Handoff handoff, WebServerDrain drain, String listener, RequestPathWarmUp warmUp) {
        this.handoff = handoff;
        this.drain = drain;
        this.listener = listener;
        this.warmUp = warmUp;
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }

    @Override
    public void customize(JettyWebServerFactory factory) {
        // Added last: the application's server customizers (beans, and those on its own factory) have run.
        factory.addServerCustomizers(server -> {
            int added = 0;
            for (Connector connector : server.getConnectors()) {
                if (connector instanceof ServerConnector network) {
                    // The first is the application's port; those the application added are handed over under
                    // names of their own, in the server's order (http-1, http-2, ...).
                    open(network, added == 0 ? listener : listener + "-" + added);
                    if (added == 0 && warmUp != null) {
                        warmUpBeforeAccepting(server, network);
                    }
                    added++;
                } else {
                    log.warn("Jetty's connector {} is not handed over: only network connectors (ServerConnector) are",
                            connector);
                }
            }
        });
    }

    /**
     * Jetty's servlets are initialised in the web server's start, just before its connectors start: the
     * warm-up runs when the first one is starting, before it accepts on the inherited listener.
     */
    private void warmUpBeforeAccepting(Server server, ServerConnector connector) {
        connector.addEventListener(new LifeCycle.Listener() {
            @Override
            public void lifeCycleStarting(LifeCycle event) {
                warmUp.run(() -> JettyPrivateConnector.open(server));
            }
        });
    }

    private void open(ServerConnector connector, String listener) {
        JettyConnections connections = new JettyConnections(connector, listener);
        List<ConnectionFactory> factories = new ArrayList<>();
        for (ConnectionFactory factory : connector.getConnectionFactories()) {
            factories.add(factory instanceof HttpConnectionFactory http ? new HandoffHttpConnectionFactory(http, connections, drain)
                    : factory);
        }
        String defaultProtocol = connector.getDefaultProtocol();
        connector.setConnectionFactories(factories);
        connector.setDefaultProtocol(defaultProtocol);
        String host = connector.getHost();
        InetSocketAddress address = host == null || host.isEmpty() ? new InetSocketAddress(connector.getPort())
                : new InetSocketAddress(host, connector.getPort());
        try {
            connector.open(handoff.listen(listener, address));
        } catch (IOException e) {
            throw new UncheckedIOException("could not open Jetty's connector on the handed-over socket", e);
        }
        drain.register(() -> stopAccepting(connector), () -> connector.getConnectedEndPoints().size(), connections);
        handoff.onConnection(listener, connections::adopt);
    }

    /**
     * Jetty's {@code setAccepting(false)} only keeps its acceptor threads from calling accept() again: one
     * already blocked in it would take a connection from the listener the successor now serves (and the
     * kernel wakes the longest waiter first), up to the moment this process stops. So the acceptors are
     * interrupted, as Jetty's own stop does it: the one in accept() closes this process's copy of the
     * listening socket (the successor's stays open) and ends quietly; one that was handling a connection
     * it had just accepted goes on to wait as not accepting. As at Jetty's own stop, a connection the
     * kernel hands over in the instant of the interrupt is lost to the JDK's exception. With more than one
     * acceptor (Jetty's default from 16 cores), each other one finds the socket closed and Jetty logs an
     * "Accept Failure" for it.
     */
    private static void stopAccepting(ServerConnector connector) {
        connector.setAccepting(false);
        if (INTERRUPT_ACCEPTORS == null) {
            return;
        }
        try {
            INTERRUPT_ACCEPTORS.invoke(connector);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("could not wake Jetty's acceptors: one may take a connection meant for the successor", e);
        }
    }

    private static Method interruptAcceptors() {
        try {
            Method method = AbstractConnector.class.getDeclaredMethod("interruptAcceptors");
            method.setAccessible(true);
            return method;
        } catch (NoSuchMethodException | RuntimeException e) {
            log.warn("this Jetty's connector is not the one Handoff knows: after a takeover, an acceptor thread "
                    + "blocked in accept() may still take one connection meant for the successor", e);
            return null;
        }
    }
}
