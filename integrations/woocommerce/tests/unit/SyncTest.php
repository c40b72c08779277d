<?php
/**
 * The scheduled pass: a lost callback heals itself.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class SyncTest extends Relay_Test_Case {

	private function pass() {
		return new Relay_Payments_Sync( new Relay_Payments_Client( Relay_Payments_Settings::load() ) );
	}

	public function test_a_settled_invoice_whose_callback_was_lost_pays_its_order() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->settle( $invoice_id, '0xlost' );
		$counts = $this->pass()->run( time() );
		$this->assertSame(
			array(
				'orders'  => 1,
				'read'    => 1,
				'applied' => 1,
				'errors'  => 0,
			),
			$counts
		);
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
		$this->assertSame( '0xlost', $this->order( $order_id )->get_transaction_id() );
	}

	public function test_it_applies_the_same_mapping_once_and_stops_reading_final_invoices() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status'] = 'processing';
		$this->pass()->run( time() );
		$this->pass()->run( time() );
		$this->assertSame( 'on-hold', $this->order( $order_id )->get_status() );
		$this->assertCount( 1, preg_grep( '/waiting for confirmations/', $this->notes( $order_id ) ) );

		$this->relay->invoices[ $invoice_id ]['status'] = 'invalid';
		$this->pass()->run( time() );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
		$before = count( WP_Test_State::$requests );
		$counts = $this->pass()->run( time() );
		$this->assertSame( 0, $counts['read'], 'an invalid invoice is final' );
		$this->assertCount( $before, WP_Test_State::$requests );
	}

	public function test_it_reads_every_invoice_of_an_order_so_a_late_payment_to_the_old_one_counts() {
		list( $order_id, $first ) = $this->checked_out_order();
		$this->relay->invoices[ $first ]['status'] = 'expired';
		$this->pass()->run( time() );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
		( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$this->relay->settle( $first, '0xold', 'paid_late' );
		$counts = $this->pass()->run( time() );
		$this->assertSame( 2, $counts['read'] );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
	}

	public function test_only_recent_unsettled_orders_of_this_gateway_with_an_invoice_are_read() {
		list( $paid_id, $paid_invoice ) = $this->checked_out_order();
		$this->relay->settle( $paid_invoice, '0x1' );
		$this->pass()->run( time() );
		$other = WC_Test_State::add_order( array( 'payment_method' => 'cheque' ) );
		WC_Test_State::$orders[ $other ]['meta']['_relay_invoice_id'] = $paid_invoice;
		$old = WC_Test_State::add_order( array( 'date_created' => time() - 10 * DAY_IN_SECONDS ) );
		WC_Test_State::$orders[ $old ]['meta']['_relay_invoice_id'] = $paid_invoice;
		WC_Test_State::add_order(); // No invoice yet.
		WP_Test_State::$requests = array();
		$counts                  = $this->pass()->run( time() );
		$this->assertSame( 0, $counts['orders'] );
		$this->assertSame( array(), WP_Test_State::$requests );
		$this->assertSame( 'pending', $this->order( $old )->get_status() );
	}

	public function test_a_relay_that_cannot_be_reached_changes_nothing_and_is_logged() {
		list( $order_id, ) = $this->checked_out_order();
		WP_Test_State::$http = null;
		$counts              = $this->pass()->run( time() );
		$this->assertSame( 1, $counts['errors'] );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
		$this->assertNotEmpty( WC_Test_State::$log );
	}

	public function test_the_pass_is_scheduled_once_with_action_scheduler() {
		Relay_Payments_Sync::schedule();
		Relay_Payments_Sync::schedule();
		$this->assertCount( 1, WC_Test_State::$actions );
		$this->assertSame( 'relay_payments_sync', WC_Test_State::$actions[0]['hook'] );
		$this->assertSame( 300, WC_Test_State::$actions[0]['interval'] );
		do_action( 'deactivate_relay-payments/relay-payments.php' );
		$this->assertSame( array(), WC_Test_State::$actions );
	}

	public function test_the_scheduled_action_runs_the_pass_only_when_enabled() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->settle( $invoice_id, '0xsched' );
		WP_Test_State::$options['woocommerce_relay_settings']['enabled'] = 'no';
		do_action( 'relay_payments_sync' );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
		WP_Test_State::$options['woocommerce_relay_settings']['enabled'] = 'yes';
		do_action( 'relay_payments_sync' );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
	}
}
