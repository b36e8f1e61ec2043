package dev.peft4j.core.testing;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Base of tests that create NDArrays: a fresh {@link NDManager} per test, closed after it. */
public abstract class ManagedTest {

    /** The manager of the running test. */
    protected NDManager manager;

    /** Opens the test's manager. */
    @BeforeEach
    protected void openManager() {
        manager = NDManager.newBaseManager();
    }

    /** Closes the test's manager and every array it still owns. */
    @AfterEach
    protected void closeManager() {
        manager.close();
    }
}
