package dev.peft4j.cli;

import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;

/**
 * The {@code peft} command. Each capability is one subcommand class registered in
 * {@link #SUBCOMMANDS}; errors are printed as one clear line and exit with code 2 (with the stack
 * trace after it when {@code -v} / {@code --verbose} is given, before or after the subcommand).
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
        InspectCommand.class,
        TrainCommand.class,
        EvalCommand.class,
        ExportCommand.class,
        MergeCommand.class
    };

    @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

    @Option(
            names = {"-v", "--verbose"},
            scope = ScopeType.INHERIT,
            description = "print the stack trace after an error's one-line message")
    boolean verbose;

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
                    if (verbose(parseResult)) {
                        ex.printStackTrace(commandLine.getErr());
                    }
                    return 2;
                });
        return cl;
    }

    /** Whether {@code -v} was given at any level of the command line. */
    private static boolean verbose(ParseResult result) {
        for (ParseResult r = result; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
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
