package dev.handoff.spring.jetty;

import dev.handoff.spring.warmup.PrivateConnector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

import java.net.InetSocketAddress;

/**
 * A plain HTTP/1.1 connector on 127.0.0.1, port 0, added to Jetty's running server. Jetty's servlets are
 * initialised only in the web server's start, so it is opened from there: when the application's own
 * connector is about to start accepting.
 */
public final class JettyPrivateConnector implements PrivateConnector {

    private final Server server;
    private final ServerConnector connector;

    private JettyPrivateConnector(Server server, ServerConnector connector) {
        this.server = server;
        this.connector = connector;
    }

    static PrivateConnector open(Server server) throws Exception {
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        try {
            connector.start();
        } catch (Exception e) {
            server.removeConnector(connector);
            throw e;
        }
        return new JettyPrivateConnector(server, connector);
    }

    @Override
    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", connector.getLocalPort());
    }

    @Override
    public void close() throws Exception {
        try {
            connector.stop();
        } finally {
            server.removeConnector(connector);
        }
    }
}
