/** @odoo-module **/
// The Integration Health dashboard with its figures, and a drill-down from a
// figure to its rows (tests/test_tours.py: TestPicoTours.test_health_dashboard).
import { registry } from "@web/core/registry";

const CARD = ".o_kanban_record:contains('Simulated Pico')";

registry.category("web_tour.tours").add("pico_tour_health", {
    steps: () => [
        {
            content: "The backend's card counts one failed exchange",
            trigger: `${CARD}:contains('Failed / dead out') strong:contains('1 / 0')`,
        },
        {
            trigger: `${CARD} a[name=action_view_failed_exchanges]`,
            run: "click",
        },
        {
            content: "The figure opens its row",
            trigger: ".o_list_view .o_data_row:contains('Failed'):contains('HTTP 400')",
        },
        {
            trigger: ".o_breadcrumb:contains('Integration Health')",
        },
    ],
});
