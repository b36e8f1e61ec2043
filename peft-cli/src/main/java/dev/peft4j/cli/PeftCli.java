package dev.peft4j.cli;

import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code peft} command. Each capability is one subcommand class registered in
 * {@link #SUBCOMMANDS}; errors are printed as one clear line (no stack trace unless {@code -v}).
 */
@Command(
        name = "peft",
        mixinStandardHelpOptions = true,
        version = "peft4j 0.1.0",
        description =
                "Parameter-efficient fine-tuning, adapter files and model merging for the JVM.")
public final class PeftCli implements Runnable {

    /** Every subcommand; a new capability adds its class here. */
    static final Class<?>[] SUBCOMMANDS = {
        InspectCommand.class, TrainCommand.class, ExportCommand.class, MergeCommand.class
    };

    @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Builds the command line with every subcommand and the one-line error handler. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new PeftCli());
        for (Class<?> c : SUBCOMMANDS) {
            cl.addSubcommand(c);
        }
        cl.setExecutionExceptionHandler(
                (ex, commandLine, parseResult) -> {
                    commandLine
                            .getErr()
                            .println("peft " + commandLine.getCommandName() + ": " + message(ex));
                    if (Boolean.getBoolean("peft.verbose")) {
                        ex.printStackTrace(commandLine.getErr());
                    }
                    return 2;
                });
        return cl;
    }

    private static String message(Throwable ex) {
        String m = ex.getMessage();
        if (ex instanceof NoSuchFileException) {
            NoSuchFileException n = (NoSuchFileException) ex;
            return n.getFile() + (n.getReason() == null ? ": no such file" : ": " + n.getReason());
        }
        return m == null ? ex.getClass().getSimpleName() : m;
    }

    /** Entry point of the {@code peft} launcher. */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
