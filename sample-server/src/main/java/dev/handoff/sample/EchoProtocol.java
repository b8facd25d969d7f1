package dev.handoff.sample;

import java.nio.charset.StandardCharsets;

/** Line echo: every line received is answered with {@code <pid> <line>}. */
final class EchoProtocol implements Protocol {

    private static final int MAX_LINE = 64 * 1024;

    private final byte[] prefix;

    EchoProtocol(long pid) {
        this.prefix = (pid + " ").getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public void process(ClientConnection connection) {
        byte[] input = connection.input();
        int start = 0;
        for (int i = 0; i < connection.inputLength(); i++) {
            if (input[i] == '\n') {
                int end = i > start && input[i - 1] == '\r' ? i - 1 : i;
                byte[] answer = new byte[prefix.length + end - start + 1];
                System.arraycopy(prefix, 0, answer, 0, prefix.length);
                System.arraycopy(input, start, answer, prefix.length, end - start);
                answer[answer.length - 1] = '\n';
                connection.served();
                connection.send(answer, false);
                start = i + 1;
            }
        }
        connection.consume(start);
        if (connection.inputLength() > MAX_LINE) {
            connection.send("line too long\n".getBytes(StandardCharsets.US_ASCII), true);
        }
    }
}
