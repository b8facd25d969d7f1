package dev.handoff.sample;

import dev.handoff.core.HandoffOptions;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The server's command line: {@code --http host:port --echo host:port --socket path}, and for the
 * restart comparison {@code --mode handoff|reuseport|plain}; {@code --drain-ms N} bounds the drain;
 * {@code --pid-file path} is rewritten (atomically) by each generation when it serves; a successor starts
 * {@code --startup-nice N} steps nicer than it serves (default 10, 0: not at all).
 */
record ServerArguments(InetSocketAddress http, InetSocketAddress echo, Path socket, Mode mode, Duration drain,
                       Path pidFile, int startupNice, List<String> raw) {

    /** How a new copy gets its listeners: from the running one, or by binding them itself. */
    enum Mode {
        /** Take the listeners and connections over from the running copy (the point of it all). */
        HANDOFF,
        /** Bind with SO_REUSEPORT beside the running copy, which is then told to stop. */
        REUSEPORT,
        /** Bind plainly: the running copy must be stopped first. */
        PLAIN
    }

    static final String USAGE = "usage: java -jar sample-server.jar --http host:port --echo host:port --socket path"
            + " [--mode handoff|reuseport|plain] [--drain-ms N] [--pid-file path] [--startup-nice N]";

    static ServerArguments parse(String[] args) {
        InetSocketAddress http = null;
        InetSocketAddress echo = null;
        Path socket = null;
        Mode mode = Mode.HANDOFF;
        Duration drain = Duration.ofSeconds(30);
        Path pidFile = null;
        int startupNice = HandoffOptions.DEFAULT_STARTUP_NICE;
        for (int i = 0; i < args.length; i++) {
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException("missing value after " + args[i] + "; " + USAGE);
            }
            String value = args[++i];
            switch (args[i - 1]) {
                case "--http" -> http = address(value);
                case "--echo" -> echo = address(value);
                case "--socket" -> socket = Path.of(value);
                case "--mode" -> mode = Mode.valueOf(value.toUpperCase(java.util.Locale.ROOT));
                case "--drain-ms" -> drain = Duration.ofMillis(Long.parseLong(value));
                case "--pid-file" -> pidFile = Path.of(value);
                case "--startup-nice" -> startupNice = Integer.parseInt(value);
                default -> throw new IllegalArgumentException("unknown argument " + args[i - 1] + "; " + USAGE);
            }
        }
        if (http == null && echo == null) {
            throw new IllegalArgumentException("give --http or --echo (or both); " + USAGE);
        }
        if (mode == Mode.HANDOFF && socket == null) {
            throw new IllegalArgumentException("--socket is required; " + USAGE);
        }
        return new ServerArguments(http, echo, socket, mode, drain, pidFile, startupNice, List.of(args));
    }

    static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("expected host:port, got " + hostPort);
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }
}
