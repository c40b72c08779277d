<?php
/**
 * Refunds from the WooCommerce admin: the refund request on the relay, its link in a customer note.
 *
 * @package Relay_Payments\Tests
 */

// phpcs:disable WordPress.NamingConventions, Squiz.Commenting

final class RefundTest extends Relay_Test_Case {

	private function paid_order() {
		list( $order_id, $invoice_id ) = $this->checked_out_order( array( 'total' => '25.00' ) );
		$this->relay->settle( $invoice_id, '0xpaid' );
		$this->post_event( 'invoice.settled', array( 'id' => $invoice_id ) );
		$this->assertSame( 'processing', $this->order( $order_id )->get_status() );
		return $order_id;
	}

	public function test_a_refund_opens_the_relays_refund_request_and_emails_its_link() {
		$order_id = $this->paid_order();
		$refund   = wc_create_refund(
			array(
				'order_id'       => $order_id,
				'amount'         => '10',
				'reason'         => 'damaged',
				'refund_payment' => true,
			)
		);
		$this->assertInstanceOf( WC_Order_Refund::class, $refund );

		$sent = end( WP_Test_State::$requests );
		$this->assertSame( 'POST', $sent['method'] );
		$this->assertSame( Fake_Relay::URL . '/api/v1/stores/main/orders/' . $order_id . '/refunds', $sent['url'] );
		$this->assertSame( 'Bearer secret-token', $sent['args']['headers']['Authorization'] );
		$this->assertSame(
			array(
				'id'     => $refund->get_id(),
				'amount' => '10.00',
				'reason' => 'damaged',
			),
			json_decode( $sent['args']['body'], true )
		);
		$note = end( WC_Test_State::$notes[ $order_id ] );
		$this->assertTrue( $note['customer'], 'a customer note, which WooCommerce e-mails' );
		$this->assertStringContainsString( Fake_Relay::URL . '/refund/token-1', $note['note'] );
		$this->assertStringContainsString( '10.00 EUR', $note['note'] );
	}

	public function test_two_refunds_of_one_order_each_get_their_own_request() {
		$order_id = $this->paid_order();
		foreach ( array( '5.00', '5.00' ) as $amount ) {
			wc_create_refund(
				array(
					'order_id'       => $order_id,
					'amount'         => $amount,
					'refund_payment' => true,
				)
			);
		}
		$this->assertCount( 2, $this->relay->refunds );
		$this->assertCount( 2, WC_Test_State::$refunds );
	}

	public function test_the_refund_id_is_found_without_the_action_too() {
		$order_id = $this->paid_order();
		$refund   = new WC_Order_Refund(
			array(
				'parent_id' => $order_id,
				'amount'    => '7.50',
			)
		);
		$refund->save();
		$this->assertTrue( ( new Relay_Payments_Gateway() )->process_refund( $order_id, '7.5', '' ) );
		$this->assertSame( $refund->get_id(), $this->relay->last_body['id'] );
	}

	public function test_a_refund_the_relay_refuses_is_a_wp_error_and_woocommerce_drops_it() {
		list( $order_id, ) = $this->checked_out_order(); // Not paid: the relay answers 409.
		$result            = wc_create_refund(
			array(
				'order_id'       => $order_id,
				'amount'         => '10',
				'refund_payment' => true,
			)
		);
		$this->assertInstanceOf( WP_Error::class, $result );
		$this->assertStringContainsString( 'not paid', $result->get_error_message() );
		$this->assertSame( array(), WC_Test_State::$refunds );
		$this->assertEmpty( array_filter( array_column( WC_Test_State::$notes[ $order_id ], 'customer' ) ) );
	}

	public function test_an_unreachable_relay_is_a_wp_error() {
		$order_id            = $this->paid_order();
		WP_Test_State::$http = null;
		$result              = wc_create_refund(
			array(
				'order_id'       => $order_id,
				'amount'         => '1',
				'refund_payment' => true,
			)
		);
		$this->assertInstanceOf( WP_Error::class, $result );
		$this->assertStringContainsString( 'cannot be reached', $result->get_error_message() );
	}

	public function test_no_request_without_a_refund_to_name_or_an_amount() {
		$order_id = $this->paid_order();
		$before   = count( WP_Test_State::$requests );
		$gateway  = new Relay_Payments_Gateway();
		$this->assertInstanceOf( WP_Error::class, $gateway->process_refund( $order_id, '3.00', '' ) );
		$this->assertInstanceOf( WP_Error::class, $gateway->process_refund( $order_id, null, '' ) );
		$this->assertInstanceOf( WP_Error::class, $gateway->process_refund( $order_id, '0', '' ) );
		$this->assertCount( $before, WP_Test_State::$requests );
	}
}
