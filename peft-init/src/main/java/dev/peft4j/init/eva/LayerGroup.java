package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * Target layers that see the same input (q, k and v of one attention block) and share one PCA;
 * the first member records the input for all of them.
 */
final class LayerGroup implements AutoCloseable {

    final List<String> members;
    final IncrementalPca pca;

    LayerGroup(List<String> members, IncrementalPca pca) {
        this.members = List.copyOf(members);
        this.pca = pca;
    }

    /** The member that records the input. */
    String representative() {
        return members.get(0);
    }

    /** The largest current rank among the members: the components that must converge. */
    int neededRank(Map<String, Integer> ranks) {
        int need = 0;
        for (String m : members) {
            need = Math.max(need, ranks.get(m));
        }
        return need;
    }

    /** Whether the first {@code neededRank} components moved less than tau (cosine) in the last batch. */
    boolean converged(Map<String, Integer> ranks, double tau) {
        double[] cos = pca.cosines();
        if (cos == null) {
            return false;
        }
        int need = neededRank(ranks);
        for (int i = 0; i < need; i++) {
            if (cos[i] < tau) {
                return false;
            }
        }
        return true;
    }

    /** Whether two captured inputs are the same (the same array, or equal content). */
    static boolean sameInput(NDArray mine, NDArray x) {
        return mine == x || (mine.getShape().equals(x.getShape()) && mine.contentEquals(x));
    }

    @Override
    public void close() {
        pca.close();
    }
}
