package dev.handoff.benchmarks;

import dev.handoff.core.Handoff;
import dev.handoff.core.HandoffOptions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One handoff with {@code listeners} listening sockets, from the successor's connect to its READY: each
 * operation is a new generation that starts, claims every listener, and says READY, after which the
 * previous generation closes. Incumbent and successor are two {@link Handoff}s in this JVM, so the
 * figure leaves out JVM start-up but has every step of the protocol on both sides.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class HandoffBenchmark extends FdBenchmarkSettings {

    @Param({"1", "10", "100"})
    public int listeners;

    private HandoffOptions options;
    private Generation current;

    /** One process's worth: its Handoff and its listeners. */
    private record Generation(Handoff handoff, List<ServerSocketChannel> channels) {
        void close() throws IOException {
            for (ServerSocketChannel channel : channels) {
                channel.close();
            }
            handoff.close();
        }
    }

    @Setup
    public void setUp() throws Exception {
        Path directory = Endpoints.directory();
        options = HandoffOptions.builder(directory.resolve("run").resolve("bench.sock"))
                .probation(Duration.ZERO).build();
        current = start(null);
    }

    @TearDown
    public void tearDown() throws IOException {
        current.close();
    }

    @Benchmark
    public int handOver() throws Exception {
        Generation next = start(current);
        if (current.handoff().awaitExit(Duration.ofSeconds(10)).isEmpty()) {
            throw new IllegalStateException("the incumbent was not released");
        }
        current.close();
        current = next;
        return next.handoff().generation();
    }

    private Generation start(Generation previous) throws Exception {
        Handoff handoff = Handoff.start(options);
        List<ServerSocketChannel> channels = new ArrayList<>();
        for (int i = 0; i < listeners; i++) {
            InetSocketAddress address = previous == null ? new InetSocketAddress("127.0.0.1", 0)
                    : (InetSocketAddress) previous.channels().get(i).getLocalAddress();
            channels.add(handoff.listen("listener-" + i, address));
        }
        handoff.ready();
        return new Generation(handoff, channels);
    }
}
