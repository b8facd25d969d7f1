package dev.handoff.core.testing;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdServer;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Two ends of a real fd channel inside this process, to give descriptors a real SCM_RIGHTS trip. */
public final class Loopback implements Closeable {

    public final FdServer server;
    public final FdChannel client;
    public final FdChannel accepted;

    public Loopback(Path directory) throws Exception {
        server = FdServer.bind(directory.resolve("run").resolve("loop.sock"), FdLimits.DEFAULT);
        CompletableFuture<FdChannel> accept = CompletableFuture.supplyAsync(() -> {
            try {
                return server.accept();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        client = FdChannel.connect(server.path(), FdLimits.DEFAULT);
        accepted = accept.get(10, TimeUnit.SECONDS);
    }

    /** Sends {@code fd} across and returns the received copy (a new descriptor the caller owns). */
    public FileDescriptor roundTrip(FileDescriptor fd) throws IOException {
        client.send(new byte[0], List.of(fd));
        try (FdMessage message = accepted.receive(Duration.ofSeconds(5))) {
            return message.take(0);
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
        accepted.close();
        server.close();
    }
}
