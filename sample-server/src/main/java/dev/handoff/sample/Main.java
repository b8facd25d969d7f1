package dev.handoff.sample;

import java.util.Arrays;

/** {@code java -jar sample-server.jar [demo [restarts]] | --echo host:port --socket path}. */
public final class Main {

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("demo")) {
            System.exit(Demo.run(Arrays.copyOfRange(args, 1, args.length)));
        }
        SampleServer.run(args);
    }

    private Main() {
    }
}
