package dev.handoff.spring.warmup;

import java.net.InetSocketAddress;

/**
 * The application's web server on a loopback port of its own, for the warm-up alone: the same
 * application behind it, none of the listeners the successor inherited.
 */
public interface PrivateConnector extends AutoCloseable {

    InetSocketAddress address();

    /** Stops it, its port closed; the web server itself stays as it was. */
    @Override
    void close() throws Exception;
}
