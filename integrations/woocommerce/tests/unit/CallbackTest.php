<?php
/**
 * The status callback (?wc-api=relay): the body is a hint, the re-read invoice decides, once.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class CallbackTest extends Relay_Test_Case {

	public function test_processing_holds_the_order_once_however_often_it_is_posted() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status'] = 'processing';
		$before = count( $this->notes( $order_id ) );

		list( $status, $answer ) = $this->post_event( 'invoice.processing', array( 'id' => $invoice_id ) );
		$this->assertSame( 200, $status );
		$this->assertSame( 'applied', $answer['result'] );
		$this->assertSame( 'on-hold', $this->order( $order_id )->get_status() );
		$this->assertCount( $before + 1, $this->notes( $order_id ) );
		$this->assertStringContainsString( 'waiting for confirmations', end( WC_Test_State::$notes[ $order_id ] )['note'] );

		foreach ( array( 1, 2 ) as $repeat ) {
			list( $status, $answer ) = $this->post_event( 'invoice.processing', array( 'id' => $invoice_id ) );
			$this->assertSame( array( 200, 'unchanged' ), array( $status, $answer['result'] ) );
		}
		$this->assertCount( $before + 1, $this->notes( $order_id ) );
	}

	public function test_settled_completes_the_payment_with_the_tx_hash() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->settle( $invoice_id, '0xfeed' );

		list( $status, $answer ) = $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) );
		$this->assertSame( array( 200, 'applied', 'processing' ), array( $status, $answer['result'], $answer['order_status'] ) );
		$order = $this->order( $order_id );
		$this->assertSame( 'processing', $order->get_status() );
		$this->assertSame( '0xfeed', $order->get_transaction_id() );
		$this->assertNotNull( $order->get_date_paid() );
		$this->assertSame( 'unchanged', $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) )[1]['result'] );
	}

	public function test_the_body_is_only_a_hint_and_out_of_order_events_change_nothing() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		// A body claiming settlement while the relay says the invoice is still new: nothing happens.
		$forged = array(
			'id'       => $invoice_id,
			'order_id' => (string) $order_id,
			'status'   => 'settled',
			'payments' => array( array( 'tx_hash' => '0xforged' ) ),
		);
		$this->assertSame( 'unchanged', $this->post_event( 'invoice.settled', $forged )[1]['result'] );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );

		// The relay settles; a stale "processing" event arriving after the settlement is read as settled.
		$this->relay->settle( $invoice_id, '0xreal' );
		$this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) );
		$notes = count( $this->notes( $order_id ) );
		list( $status, $answer ) = $this->post_event(
			'invoice.processing',
			array(
				'id'     => $invoice_id,
				'status' => 'processing',
			)
		);
		$this->assertSame( array( 200, 'unchanged' ), array( $status, $answer['result'] ) );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
		$this->assertSame( '0xreal', $this->order( $order_id )->get_transaction_id() );
		$this->assertCount( $notes, $this->notes( $order_id ) );
		// The re-read went to the store-scoped route with the store's token.
		$read = end( WP_Test_State::$requests );
		$this->assertSame( 'GET', $read['method'] );
		$this->assertSame( Fake_Relay::URL . '/api/v1/stores/main/invoices/' . $invoice_id, $read['url'] );
		$this->assertSame( 'Bearer secret-token', $read['args']['headers']['Authorization'] );
	}

	public function test_expired_unpaid_fails_the_order_so_it_can_be_paid_again() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status'] = 'expired';
		$this->assertSame( 'applied', $this->post_event( 'invoice.expired', array( 'id' => $invoice_id ) )[1]['result'] );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
		$this->assertStringContainsString( 'expired unpaid', end( WC_Test_State::$notes[ $order_id ] )['note'] );
		$this->assertSame( 'unchanged', $this->post_event( 'invoice.expired', array( 'id' => $invoice_id ) )[1]['result'] );
	}

	public function test_expired_with_a_partial_payment_holds_the_order_for_the_merchant() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status']    = 'expired';
		$this->relay->invoices[ $invoice_id ]['exception'] = 'paid_partial';
		$this->post_event( 'invoice.expired', array( 'id' => $invoice_id ) );
		$this->assertSame( 'on-hold', $this->order( $order_id )->get_status() );
		$this->assertStringContainsString( 'part of the amount', end( WC_Test_State::$notes[ $order_id ] )['note'] );
	}

	public function test_a_late_payment_reopens_a_failed_order() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status'] = 'expired';
		$this->post_event( 'invoice.expired', array( 'id' => $invoice_id ) );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );

		$this->relay->settle( $invoice_id, '0xlate', 'paid_late' );
		$this->post_event( 'invoice.paid_late', array( 'id' => $invoice_id ) );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
		$this->assertSame( '0xlate', $this->order( $order_id )->get_transaction_id() );
		$this->assertNotEmpty( preg_grep( '/paid late/', $this->notes( $order_id ) ) );
	}

	public function test_invalid_fails_the_order() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->invoices[ $invoice_id ]['status'] = 'processing';
		$this->post_event( 'invoice.processing', array( 'id' => $invoice_id ) );
		$this->relay->invoices[ $invoice_id ]['status'] = 'invalid';
		$this->post_event( 'invoice.invalid', array( 'id' => $invoice_id ) );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
	}

	public function test_orders_already_completed_or_refunded_are_never_moved() {
		foreach ( array( 'completed', 'refunded', 'processing' ) as $status ) {
			list( $order_id, $invoice_id ) = $this->checked_out_order();
			$order = $this->order( $order_id );
			$order->set_status( $status );
			$order->save();
			$notes = count( $this->notes( $order_id ) );
			foreach ( array( 'processing', 'expired' ) as $invoice_status ) {
				$this->relay->invoices[ $invoice_id ]['status'] = $invoice_status;
				$this->post_event( 'invoice.' . $invoice_status, array( 'id' => $invoice_id ) );
			}
			$this->relay->settle( $invoice_id, '0xother' );
			$this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) );
			$this->assertSame( $status, $this->order( $order_id )->get_status() );
			$this->assertSame( '', $this->order( $order_id )->get_transaction_id() );
			$this->assertCount( $notes, $this->notes( $order_id ) );
		}
	}

	public function test_a_forged_invoice_id_changes_nothing() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$snapshot = WC_Test_State::$orders[ $order_id ];
		list( $status, $answer ) = $this->post_event(
			'invoice.settled',
			array(
				'id'       => 'inv_forged',
				'order_id' => (string) $order_id,
				'status'   => 'settled',
			)
		);
		$this->assertSame( array( 200, 'ignored' ), array( $status, $answer['result'] ) );
		$this->assertSame( $snapshot, WC_Test_State::$orders[ $order_id ] );
	}

	public function test_another_orders_real_invoice_relabelled_changes_nothing() {
		list( $victim, ) = $this->checked_out_order();
		list( $other, $other_invoice ) = $this->checked_out_order();
		$this->relay->settle( $other_invoice, '0xother' );
		// The other order's settled invoice, its body relabelled as the victim's.
		$this->post_event(
			'invoice.settled',
			array(
				'id'       => $other_invoice,
				'order_id' => (string) $victim,
			)
		);
		$this->assertSame( 'pending', $this->order( $victim )->get_status() );
		$this->assertSame( 'processing', $this->order( $other )->get_status(), 'the invoice paid its own order' );
	}

	public function test_an_invoice_the_order_never_opened_changes_nothing() {
		list( $order_id, ) = $this->checked_out_order();
		// The relay holds an invoice for this order id that the order did not open (a reused order id).
		$stranger = $this->relay->add_invoice( array( 'order_id' => (string) $order_id ) );
		$this->relay->settle( $stranger, '0xstranger' );
		$this->assertSame( 'ignored', $this->post_event( 'invoice.settled', array( 'id' => $stranger ) )[1]['result'] );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
	}

	public function test_another_stores_invoice_changes_nothing() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->settle( $invoice_id, '0xmine' );
		$this->relay->invoices[ $invoice_id ]['store'] = 'elsewhere';
		$this->assertSame( 'ignored', $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) )[1]['result'] );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
	}

	public function test_an_order_key_the_relay_echoes_must_match() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		$this->relay->settle( $invoice_id, '0xkey' );
		$this->relay->invoices[ $invoice_id ]['order_key'] = 'wc_order_someoneelse';
		$this->assertSame( 'ignored', $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) )[1]['result'] );
		$this->relay->invoices[ $invoice_id ]['order_key'] = $this->order( $order_id )->get_order_key();
		$this->assertSame( 'applied', $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) )[1]['result'] );
	}

	public function test_unreadable_bodies_get_a_4xx() {
		$handler = $this->handler();
		$this->assertSame( 400, $handler->handle( 'POST', 'not json' )[0] );
		$this->assertSame( 400, $handler->handle( 'POST', '{"type": "invoice.settled"}' )[0] );
		$this->assertSame( 400, $handler->handle( 'POST', '{"data": {"id": 7}}' )[0] );
		$this->assertSame( 400, $handler->handle( 'POST', '{"data": {"id": "../../admin"}}' )[0] );
		$this->assertSame( 405, $handler->handle( 'GET', '' )[0] );
		$this->assertSame( 'invalid_payload', $handler->handle( 'POST', '[]' )[1]['error']['code'] );
		$this->assertSame( array(), WP_Test_State::$requests, 'nothing was re-read for an unreadable body' );
	}

	public function test_a_relay_that_cannot_be_asked_gets_a_5xx_so_it_retries() {
		list( $order_id, $invoice_id ) = $this->checked_out_order();
		WP_Test_State::$http = null; // Connection refused from now on.
		list( $status, $answer ) = $this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) );
		$this->assertSame( 503, $status );
		$this->assertSame( 'relay_unavailable', $answer['error']['code'] );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
		$this->assertStringNotContainsString( 'secret-token', json_encode( WC_Test_State::$log ) );
	}

	public function test_an_older_invoice_expiring_leaves_the_order_paying_its_newer_one() {
		list( $order_id, $first ) = $this->checked_out_order();
		$this->relay->invoices[ $first ]['status'] = 'expired';
		$this->post_event( 'invoice.expired', array( 'id' => $first ) );
		$this->assertSame( 'failed', $this->order( $order_id )->get_status() );
		// Paying again opens a second invoice; the order goes back to pending.
		( new Relay_Payments_Gateway() )->process_payment( $order_id );
		$second = $this->order( $order_id )->get_meta( '_relay_invoice_id' );
		$this->assertNotSame( $first, $second );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
		// A repeated expiry of the first invoice does not fail the order that now pays the second.
		WC_Test_State::$orders[ $order_id ]['meta']['_relay_applied'] = array();
		$this->post_event( 'invoice.expired', array( 'id' => $first ) );
		$this->assertSame( 'pending', $this->order( $order_id )->get_status() );
		// Whichever is paid pays the order: here the first, late.
		$this->relay->settle( $first, '0xfirst', 'paid_late' );
		$this->post_event( 'invoice.paid_late', array( 'id' => $first ) );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
	}
}
