package dev.handoff.core.testing;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;

import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Opens the file named by its first argument and sends its descriptor to its parent: over the socket
 * path in the second argument, or, when that is {@code stdin}, over the socket pair it inherited as stdin.
 */
public final class FileSenderChild {

    public static void main(String[] args) throws Exception {
        try (FdChannel parent = args[1].equals("stdin") ? FdChannel.inheritedFromStdin(FdLimits.DEFAULT)
                : FdChannel.connect(Path.of(args[1]), FdLimits.DEFAULT);
             FileInputStream file = new FileInputStream(args[0])) {
            parent.send("opened by the child".getBytes(StandardCharsets.UTF_8), List.of(file.getFD()));
            parent.receive().close(); // wait until the parent has it
        }
    }
}
